/**
 * The soak: `npm run soak -- --minutes N [--load F | --rate R --pushes P --reads Q] [--subscribers S] [--chaos]`.
 *
 * Two API processes (ROLE=api, src/main.ts) and two workers (src/jobs/worker-main.ts) on a
 * database and Redis prefix of their own; the WeChat simulator in this process, pushing its open
 * events and customers' text messages (P a second) through a relay that spreads them over both
 * API instances and redelivers as WeChat does; graphql-ws subscribers on both instances; the
 * provider's other backends (a RELAY and an EVENTS endpoint per tenant on a receiver here);
 * console page reads (Q a second); a load loop applying for merchants over GraphQL/HTTP at R a
 * second, re-applying and cancelling some. `--load F` sets R, P and Q to the share F of the
 * capacity `npm run bench` measured (see CAPACITY). At the end the ledgers are checked (see
 * test/support/ledger.ts and test/faults/support/webhook-ledger.ts): every accepted application
 * in its expected status, WeChat's calls accounted for, every push stored and processed, relayed
 * verbatim and every committed change delivered signed, every subscriber at each application's
 * final status; the summary gives memory (VmRSS) per process at start and end, and how long
 * after the load the ledger balanced (polled for up to 60 s, 300 s with --chaos: what a fault
 * left behind drains after it). Exits 1 when anything does not balance.
 *
 * `--chaos` adds, during the load: a worker SIGKILLed (and started again), Redis restarted (the
 * soak's own redis-server), every Postgres connection of the gateway terminated, and WeChat (the
 * simulator, behind a TCP proxy) unreachable for 30 s (a twentieth of the run when that is
 * shorter). The console retries an apply a fault refused, as a console does; a call whose answer
 * a fault lost may be made again (at most two unrecorded per merchant). The ledgers must still
 * balance and memory stay flat.
 */
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { inspect, parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { and, eq, inArray, ne } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { connectPostgres } from '../src/db/client.js';
import { APPLICATION_STATUSES, type ApplicationStatus, liveApplicationEvents, liveApplications, webhookDeliveries } from '../src/db/tables.js';
import { APPLY_QUEUE_NAME } from '../src/jobs/apply-queue.js';
import { bullPrefix } from '../src/jobs/quota-keys.js';
import { systemClock } from '../src/lib/clock.js';
import { SecretBox } from '../src/lib/secret-box.js';
import { MAX_IMPORT } from '../src/services/authorizers.service.js';
import { TenantsService } from '../src/services/tenants.service.js';
import { WebhookEndpointsService } from '../src/services/webhooks/endpoints.service.js';
import { SimulatorAdmin } from '../src/wechat/simulator/admin-client.js';
import { startSimulator } from '../src/wechat/simulator/server.js';
import type { AppBehaviourInput } from '../src/wechat/simulator/types.js';
import { GatewayClient } from '../test/faults/support/gateway-client.js';
import { type GatewayProcess, readRssKiB, spawnGateway } from '../test/faults/support/gateway-process.js';
import { PushRelay } from '../test/faults/support/push-relay.js';
import { RedisProcess } from '../test/faults/support/redis-process.js';
import { freePort, TcpProxy } from '../test/faults/support/tcp-proxy.js';
import { WebhookLedger, type WebhookLedgerReport } from '../test/faults/support/webhook-ledger.js';
import { randomAppId, tenantInput } from '../test/support/fixtures.js';
import { expectLedgerBalanced, LedgerImbalance, type LedgerReport } from '../test/support/ledger.js';
import { adminSql, databaseUrl } from '../test/support/pg-admin.js';
import { deleteKeys } from '../test/support/test-env.js';
import { Receiver } from '../test/webhooks/outbound/support/receiver.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    rate: { type: 'string' },
    pushes: { type: 'string' },
    reads: { type: 'string' },
    subscribers: { type: 'string' },
    load: { type: 'string' },
    chaos: { type: 'boolean', default: false },
  },
});

/**
 * What `npm run bench` measured on this machine kind (the README's benchmark table; a run's
 * bench/results/latest.json replaces them when it is there): applications SUBMITTED per second
 * with two workers (figure 3), pushes processed per second (figure 2) and console page reads
 * per second (figure 1). `--load F` runs the soak at the share F of it, split between the three.
 */
const CAPACITY = benchCapacity({ applies: 188, pushes: 166, reads: 376 });
const SPLIT = { applies: 0.3, pushes: 0.4, reads: 0.3 };

const minutes = Number(args.minutes);
const chaos = args.chaos === true;
const load = args.load === undefined ? undefined : Number(args.load);
const share = (kind: keyof typeof SPLIT) => (load === undefined ? undefined : Math.round(load * SPLIT[kind] * CAPACITY[kind]));
const rate = Number(args.rate ?? share('applies') ?? 4);
/** Customer messages per second, pushed to random merchants' message URLs (relayed to the provider). */
const pushRate = Number(args.pushes ?? share('pushes') ?? (chaos ? 10 : 0));
/** Console page reads per second, over both tenants. */
const readRate = Number(args.reads ?? share('reads') ?? (chaos ? 10 : 0));
/** Subscribers per tenant and API instance beyond the first (each checks every final status too). */
const extraSubscribers = Number(args.subscribers ?? (load === undefined ? 0 : 10));
if (
  !(minutes > 0) ||
  !(rate > 0 && rate <= 100) ||
  !(pushRate >= 0 && pushRate <= 500) ||
  !(readRate >= 0 && readRate <= 1000) ||
  !(Number.isInteger(extraSubscribers) && extraSubscribers >= 0 && extraSubscribers <= 200) ||
  (load !== undefined && !(load > 0 && load <= 2))
) {
  process.stderr.write(
    'usage: npm run soak -- --minutes N [--load share-of-bench-capacity | --rate applies/s (<= 100) --pushes messages/s --reads reads/s] [--subscribers N] [--chaos]\n',
  );
  process.exit(2);
}
const durationMs = Math.round(minutes * 60_000);
const TENANTS = 2;

function benchCapacity(fallback: { applies: number; pushes: number; reads: number }): typeof fallback & { source: string } {
  const file = fileURLToPath(new URL('./results/latest.json', import.meta.url));
  if (!existsSync(file)) return { ...fallback, source: 'the README benchmark table' };
  try {
    const { figures, date } = JSON.parse(readFileSync(file, 'utf8')) as {
      date: string;
      figures: {
        query?: { median?: { gateway?: { okPerSec?: number } } };
        webhook?: { processedPerSecMedian?: number };
        pipeline?: { median?: { perSecondByWorkers?: Record<string, number> } };
      };
    };
    return {
      applies: figures.pipeline?.median?.perSecondByWorkers?.['2'] ?? fallback.applies,
      pushes: figures.webhook?.processedPerSecMedian ?? fallback.pushes,
      reads: figures.query?.median?.gateway?.okPerSec ?? fallback.reads,
      source: `bench/results/latest.json of ${date}`,
    };
  } catch {
    return { ...fallback, source: 'the README benchmark table (bench/results/latest.json unreadable)' };
  }
}

/** What each merchant does at WeChat, and where its application should end. */
type Kind = 'opens' | 'waits' | 'not_paid' | 'busy_once' | 'slow' | 'cancelled';
const KINDS: { kind: Kind; share: number; expect: readonly ApplicationStatus[] }[] = [
  { kind: 'opens', share: 50, expect: ['OPENED'] },
  { kind: 'waits', share: 15, expect: ['SUBMITTED'] },
  { kind: 'not_paid', share: 10, expect: ['REJECTED'] },
  { kind: 'busy_once', share: 10, expect: ['OPENED'] },
  { kind: 'slow', share: 5, expect: ['OPENED'] },
  // Cancelled while WeChat holds the call; a cancel that comes after the answer leaves it SUBMITTED.
  { kind: 'cancelled', share: 10, expect: ['CANCELLED', 'SUBMITTED'] },
];

function kindOf(n: number): Kind {
  // 37 is coprime with 100: every run of 100 merchants has each kind in its share, spread out.
  let slot = (n * 37 + 11) % 100;
  for (const k of KINDS) {
    if (slot < k.share) return k.kind;
    slot -= k.share;
  }
  return 'opens';
}

function behaviour(appId: string, kind: Kind, n: number): AppBehaviourInput {
  const openAfterMs = 200 + ((n * 397) % 2800);
  switch (kind) {
    case 'opens':
      return { appId, scenario: { kind: 'accept' }, openAfterMs };
    case 'waits':
      return { appId, scenario: { kind: 'accept' }, openAfterMs: null };
    case 'not_paid':
      return { appId, scenario: { kind: 'not_paid' }, openAfterMs: null };
    case 'busy_once':
      return { appId, scenario: { kind: 'busy', times: 1 }, openAfterMs };
    case 'slow':
      return { appId, scenario: { kind: 'slow', delayMs: 800, inner: { kind: 'accept' } }, openAfterMs };
    case 'cancelled':
      return { appId, scenario: { kind: 'slow', delayMs: 1_500, inner: { kind: 'accept' } }, openAfterMs: null };
  }
}

interface Merchant {
  tenant: number;
  appId: string;
  kind: Kind;
}

interface Subscriber {
  name: string;
  tenant: number;
  events: number;
  /** Every status delivered, per application id: one bit per status (APPLICATION_STATUSES). */
  seen: Map<string, number>;
  last: Map<string, string>;
  /** Times its socket came back after a loss (it then resumes after its last cursor). */
  reconnects: () => number;
  dispose(): Promise<void>;
}

const log = (line: string) => process.stdout.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pct = (x: number) => `${Math.round(x * 100)} %`;
const statusBit = (status: string) => 1 << APPLICATION_STATUSES.indexOf(status as ApplicationStatus);
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

async function main(): Promise<number> {
  const dbName = `wxlive_soak_${Date.now()}_${randomBytes(3).toString('hex')}`;
  let redisUrl = process.env.REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redisPrefix = `soak-${randomUUID().slice(0, 8)}`;
  const secretKey = randomBytes(32);
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log(`cleanup: ${inspect(err, { depth: 1 })}`));
  };
  // Interrupted (Ctrl+C, or a timeout's SIGTERM): stop the gateway processes and drop the database, never leave them behind.
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  process.once('SIGTERM', () => void cleanup().then(() => process.exit(143)));

  try {
    // Its own database, built from the migrations, dropped at the end.
    const admin = adminSql();
    await admin.unsafe(`create database "${dbName}"`);
    await admin.end();
    cleanups.push(async () => {
      const a = adminSql();
      await a.unsafe(`drop database if exists "${dbName}" with (force)`).finally(() => a.end());
    });
    // Chaos restarts Redis: a redis-server of the soak's own, never the machine's shared one.
    const ownRedis = chaos ? await RedisProcess.start() : undefined;
    if (ownRedis) {
      redisUrl = ownRedis.url;
      cleanups.push(() => ownRedis.stop());
    }
    const database = connectPostgres(databaseUrl(dbName), { max: 4 });
    cleanups.push(() => database.close());
    await database.migrate();
    const redis = new Redis(redisUrl);
    // Chaos restarts this Redis: ioredis reconnects; its errors meanwhile are expected.
    redis.on('error', () => {});
    cleanups.push(async () => {
      await deleteKeys(redis, redisPrefix);
      await redis.quit();
    });

    const sim = await startSimulator({ port: 0 });
    cleanups.push(() => sim.stop());
    const simAdmin = new SimulatorAdmin(sim.url);
    // The gateway reaches WeChat through a proxy chaos can take down; the soak talks to the simulator directly.
    const wechatProxy = chaos ? await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(sim.url).port) }) : undefined;
    if (wechatProxy) cleanups.push(() => wechatProxy.close());

    const env = {
      DATABASE_URL: databaseUrl(dbName),
      REDIS_URL: redisUrl,
      REDIS_PREFIX: redisPrefix,
      SECRET_KEY: secretKey.toString('base64'),
      // The load comes from one key: these figures measure the gateway, not the per-key rate limit.
      RATE_LIMIT_PER_SECOND: '100000',
      RATE_LIMIT_BURST: '1000000',
      WECHAT_API_BASE: wechatProxy ? `http://${wechatProxy.address}` : sim.url,
      HOST: '127.0.0.1',
      // Pool and worker concurrency are the defaults (10 connections, 20 apply jobs per worker), as deployed.
      APPLY_BACKOFF_MS: '500',
      JOBS_RECONCILE_INTERVAL_MS: '5000',
      // The provider's backends (the soak's receiver) are on loopback, over http.
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true',
    };
    const processes: GatewayProcess[] = await Promise.all([
      spawnGateway('api', { ...env, PORT: String(await freePort()) }),
      spawnGateway('api', { ...env, PORT: String(await freePort()) }),
      spawnGateway('worker', env),
      spawnGateway('worker', env),
    ]);
    /** Processes chaos killed; their exit and logs are not judged. */
    const killed: GatewayProcess[] = [];
    cleanups.push(() => Promise.all([...processes, ...killed].map((p) => p.kill())));
    const names = ['api-1', 'api-2', 'worker-1', 'worker-2'];
    const apiUrls = processes.filter((p) => p.role === 'api').map((p) => p.url as string);
    const relay = await PushRelay.start({ targets: apiUrls });
    cleanups.push(() => relay.close());
    log(`4 gateway processes up (${apiUrls.join(', ')}); database ${dbName}, Redis prefix ${redisPrefix}`);

    // Tenants, their merchants in the simulator and in the gateway (imported over GraphQL).
    // A tick applies for 1.2 merchants on average (a batch of three every tenth): enough for the whole run.
    const perTenant = Math.ceil((1.2 * rate * durationMs) / 1000 / TENANTS) + 10;
    const box = new SecretBox(secretKey);
    const tenantsService = new TenantsService(database.db, box, systemClock);
    // The provider's other backends: a RELAY endpoint (every push, verbatim) and an EVENTS endpoint
    // (signed application.updated events) per tenant, on a receiver here, checked by the webhook ledger.
    const receiver = await new Receiver().start();
    cleanups.push(() => receiver.stop());
    const webhookLedger = new WebhookLedger(database.db, receiver, relay.records);
    const endpointsService = new WebhookEndpointsService({
      db: database.db,
      box,
      clock: systemClock,
      urlPolicy: { allowHttp: true, allowPrivateAddresses: true },
    });
    const clients: GatewayClient[] = [];
    const merchants: Merchant[] = [];
    // Each tenant's applyliveinfo budget (calls_per_second, 10 by default) covers twice what the
    // load applies for: the soak measures the gateway at a share of its capacity, which the bench
    // measured with the budgets raised. With the default, 2 tenants could call at most 20/s, below
    // the ~32/s of applications accepted at --load 0.5 once the pipeline kept up, and the backlog
    // at the end was the budget's, not the gateway's.
    const callsPerSecond = Math.max(10, Math.ceil((2 * 1.2 * rate) / TENANTS));
    for (let t = 0; t < TENANTS; t++) {
      const input = { ...tenantInput(), callsPerSecond };
      const { tenant, apiKey } = await tenantsService.create(input);
      await simAdmin.registerComponent({
        componentAppId: input.componentAppId,
        componentAppSecret: input.componentAppSecret,
        token: input.token,
        encodingAesKey: input.encodingAesKey,
        authUrl: `${relay.url}/webhooks/wechat/${tenant.id}/auth`,
        messageUrlTemplate: `${relay.url}/webhooks/wechat/${tenant.id}/events/$APPID$`,
      });
      const ticket = await simAdmin.issueTicket({ componentAppId: input.componentAppId });
      if (ticket.push?.body !== 'success') throw new Error(`ticket push not acknowledged: ${JSON.stringify(ticket.push)}`);
      const client = new GatewayClient(apiUrls, tenant.id, apiKey.key);
      const imports = [];
      const tenantMerchants: string[] = [];
      for (let i = 0; i < perTenant; i++) {
        const m: Merchant = { tenant: t, appId: randomAppId(), kind: kindOf(i) };
        const { refreshToken } = await simAdmin.addAuthorizer({ componentAppId: input.componentAppId, appId: m.appId, funcInfo: [1, 52] });
        await simAdmin.setBehaviour(behaviour(m.appId, m.kind, i));
        imports.push({ appId: m.appId, refreshToken, permissionSets: [1, 52] });
        merchants.push(m);
        tenantMerchants.push(m.appId);
      }
      for (let i = 0; i < imports.length; i += MAX_IMPORT) await client.importAuthorizers(imports.slice(i, i + MAX_IMPORT));
      clients.push(client);
      const ledgerTenant = { tenantId: tenant.id, componentAppId: input.componentAppId, appIds: tenantMerchants, input };
      await webhookLedger.endpoint(endpointsService, ledgerTenant, 'RELAY');
      await webhookLedger.endpoint(endpointsService, ledgerTenant, 'EVENTS');
    }
    const kindByApp = new Map(merchants.map((m) => [m.appId, m.kind]));

    // Subscribers: every tenant on every API instance.
    const subscribers: Subscriber[] = [];
    for (const [t, client] of clients.entries()) {
      for (const [i, url] of apiUrls.entries()) {
        for (let n = 0; n <= extraSubscribers; n++) {
          const s: Subscriber = {
            name: `tenant ${t + 1} on api-${i + 1}${n === 0 ? '' : ` #${n + 1}`}`,
            tenant: t,
            events: 0,
            seen: new Map(),
            last: new Map(),
            reconnects: () => 0,
            dispose: async () => {},
          };
          const sub = client.subscribe(url, (change) => {
            s.events++;
            s.seen.set(change.id, (s.seen.get(change.id) ?? 0) | statusBit(change.status));
            s.last.set(change.id, change.status);
          });
          s.dispose = sub.dispose;
          s.reconnects = sub.reconnects;
          subscribers.push(s);
          await sub.connected;
        }
      }
    }
    cleanups.push(() => Promise.all(subscribers.map((s) => s.dispose())));
    // Connected is not yet subscribed on the server; the load starts a moment later.
    await sleep(1_000);
    const rssStart = processes.map((p) => p.rssKiB());
    const rssPeak = [...rssStart];
    const selfStart = readRssKiB(process.pid);
    const shares = [
      `${rate} applies/s (${pct(rate / CAPACITY.applies)})`,
      `${pushRate} messages/s (${pct(pushRate / CAPACITY.pushes)})`,
      `${readRate} reads/s (${pct(readRate / CAPACITY.reads)})`,
    ];
    const loadShare = rate / CAPACITY.applies + pushRate / CAPACITY.pushes + readRate / CAPACITY.reads;
    log(
      `${merchants.length} merchants in ${TENANTS} tenants (applyliveinfo at most ${callsPerSecond}/s each); ${subscribers.length} subscribers; load for ${minutes} min: ${shares.join(', ')}`,
    );
    log(
      `  ${pct(loadShare)} of the capacity npm run bench measured (${CAPACITY.applies} applies/s, ${CAPACITY.pushes} pushes/s, ${CAPACITY.reads} reads/s; ${CAPACITY.source})`,
    );

    // The load: one apply per tick, a batch of three every tenth, a re-apply now and then, cancels.
    const started = Date.now();
    // Tenants take turns: merchants were made tenant by tenant.
    const order = Array.from({ length: perTenant }, (_, i) => Array.from({ length: TENANTS }, (_, t) => merchants[t * perTenant + i] as Merchant)).flat();
    let next = 0;
    let tick = 0;
    let inFlight = 0;
    let refused = 0;
    const errors: string[] = [];
    const pending = new Set<Promise<unknown>>();
    const applied: Merchant[] = [];
    // RSS each minute, to tell a steady growth (a leak) from a high-water mark the load left.
    const rssByMinute: number[][] = processes.map(() => []);
    const sampler = setInterval(() => {
      const minute = Math.floor((Date.now() - started) / 60_000);
      processes.forEach((p, i) => {
        const rss = p.rssKiB();
        rssPeak[i] = Math.max(rssPeak[i] ?? 0, rss);
        const series = rssByMinute[i] as number[];
        if (series.length <= minute) series.push(rss);
      });
    }, 1_000);
    // This process is the load generator, the simulator, the push relay, the receiver and the
    // subscribers at once: its CPU and event-loop delay say whether it, not the gateway, set the pace.
    const loopDelay = monitorEventLoopDelay({ resolution: 20 });
    loopDelay.enable();
    let cpuMark = { usage: process.cpuUsage(), at: performance.now() };
    const selfLoad = { cpuPeak: 0, delayP99PeakMs: 0 };
    const progress = setInterval(() => {
      webhookLedger.verifyArrived();
      const accepted = clients.reduce((n, c) => n + c.accepted.length, 0);
      const usage = process.cpuUsage(cpuMark.usage);
      const now = performance.now();
      const cpu = (usage.user + usage.system) / 1000 / (now - cpuMark.at);
      cpuMark = { usage: process.cpuUsage(), at: now };
      const delayP99Ms = loopDelay.percentile(99) / 1e6;
      loopDelay.reset();
      selfLoad.cpuPeak = Math.max(selfLoad.cpuPeak, cpu);
      selfLoad.delayP99PeakMs = Math.max(selfLoad.delayP99PeakMs, delayP99Ms);
      log(
        `${Math.round((Date.now() - started) / 1000)} s: ${accepted} accepted, ${relay.records.length} pushes, ${subscribers.reduce((n, s) => n + s.events, 0)} deliveries, ${receiver.received.length} webhooks, ${reads.ok} reads; soak process ${pct(cpu)} of a core, event-loop delay p99 ${delayP99Ms.toFixed(0)} ms`,
      );
    }, 10_000);
    /** A console retries what a fault refused (re-applying answers with the same application). */
    const retried = async <T>(what: () => Promise<T>): Promise<T> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await what();
        } catch (err) {
          if (!chaos || attempt >= 60) throw err;
          consoleRetries++;
          await sleep(500);
        }
      }
    };
    let consoleRetries = 0;
    const act = async (tickNo: number) => {
      const client = (m: Merchant) => clients[m.tenant] as GatewayClient;
      if (tickNo % 17 === 16 && applied.length > 0) {
        // A console retrying an apply it already made: answered with the same application.
        const m = applied[applied.length - 1] as Merchant;
        await retried(() => client(m).applyLive(m.appId));
        return;
      }
      const batch = tickNo % 10 === 9 ? 3 : 1;
      const ms = order.slice(next, next + batch);
      next += ms.length;
      if (ms.length === 0) return;
      const byTenant = new Map<number, Merchant[]>();
      for (const m of ms) byTenant.set(m.tenant, [...(byTenant.get(m.tenant) ?? []), m]);
      for (const [t, list] of byTenant) {
        const c = clients[t] as GatewayClient;
        const outcomes = await retried(async () =>
          list.length === 1 ? [await c.applyLive((list[0] as Merchant).appId)] : await c.applyLiveBatch(list.map((m) => m.appId)),
        );
        for (const [i, o] of outcomes.entries()) {
          const m = list[i] as Merchant;
          if (!o.application) {
            refused++;
            errors.push(`${m.appId}: ${JSON.stringify(o.userErrors)}`);
            continue;
          }
          applied.push(m);
          if (m.kind === 'cancelled') {
            const id = o.application.id;
            await sleep(300);
            await retried(() => c.cancel(id));
          }
        }
      }
    };
    const faults: string[] = [];
    const reads = { ok: 0, failed: 0 };
    let loadOver = false;
    // Reads and customer messages at their own even pace, beside the applies, until the load is over.
    const paced = async (perSecond: number, maxInFlight: number, one: (n: number) => Promise<unknown>) => {
      if (perSecond <= 0) return;
      const inFlightNow = new Set<Promise<unknown>>();
      for (let n = 0; !loadOver; n++) {
        const due = started + (n * 1000) / perSecond;
        if (due > Date.now()) await sleep(due - Date.now());
        while (inFlightNow.size >= maxInFlight) await Promise.race(inFlightNow);
        const p = one(n).finally(() => inFlightNow.delete(p));
        inFlightNow.add(p);
      }
      await Promise.all(inFlightNow);
    };
    const messages = { sent: 0, failed: 0 };
    const readers = [
      paced(readRate, 16, (n) =>
        (clients[n % clients.length] as GatewayClient).readPage().then(
          () => reads.ok++,
          () => reads.failed++,
        ),
      ),
      paced(pushRate, 32, (n) =>
        simAdmin
          .pushMessage({
            appId: (merchants[(n * 7919) % merchants.length] as Merchant).appId,
            content: `soak message ${n}`,
            fromUserName: `o_customer_${n % 97}`,
          })
          .then(
            () => messages.sent++,
            () => messages.failed++,
          ),
      ),
    ];
    const at = (fraction: number) => sleep(Math.max(0, started + fraction * durationMs - Date.now()));
    const fault = async (name: string, run: () => Promise<unknown>) => {
      const t0 = Date.now();
      await run();
      const line = `${name} at ${Math.round((t0 - started) / 1000)} s (${((Date.now() - t0) / 1000).toFixed(1)} s)`;
      faults.push(line);
      log(`chaos: ${line}`);
    };
    const chaosRun = chaos
      ? (async () => {
          await at(0.15);
          await fault('SIGKILL worker-1, started again', async () => {
            const victim = processes[2] as GatewayProcess;
            await victim.kill();
            killed.push(victim);
            processes[2] = await spawnGateway('worker', env);
          });
          await at(0.35);
          await fault('Redis restarted (2 s down)', () => (ownRedis as RedisProcess).restart({ downMs: 2_000 }));
          await at(0.55);
          await fault('Postgres connections of the gateway terminated', async () => {
            const a = adminSql();
            try {
              const [row] = await a.unsafe<{ n: number }[]>(
                'select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
                [dbName],
              );
              faults.push(`  ${row?.n ?? 0} connections terminated`);
            } finally {
              await a.end();
            }
          });
          await at(0.7);
          const downMs = Math.min(30_000, durationMs / 20);
          await fault(`WeChat unreachable for ${Math.round(downMs / 1000)} s`, async () => {
            const proxy = wechatProxy as TcpProxy;
            await proxy.down();
            await sleep(downMs);
            await proxy.up();
          });
        })()
      : Promise.resolve();
    while (Date.now() - started < durationMs && next < order.length) {
      const due = started + (tick * 1000) / rate;
      if (due > Date.now()) await sleep(due - Date.now());
      if (inFlight >= 16) {
        await Promise.race(pending);
        continue;
      }
      inFlight++;
      const p = act(tick++)
        .catch((err: unknown) => {
          errors.push(err instanceof Error ? err.message : String(err));
        })
        .finally(() => {
          inFlight--;
          pending.delete(p);
        });
      pending.add(p);
    }
    await Promise.all(pending);
    await chaosRun;
    loadOver = true;
    await Promise.all(readers);
    clearInterval(progress);
    const loadSeconds = (Date.now() - started) / 1000;
    log(`load done after ${loadSeconds.toFixed(0)} s; waiting for the pipeline and the pushes to settle`);

    // The ledger, polled until the last open events (up to 3 s after their call) are in.
    const accepted = clients.flatMap((c) => c.accepted);
    const sources = { db: database.db, sim: simAdmin, tenantIds: clients.map((c) => c.tenantId), accepted, pushes: relay.records };
    let report: LedgerReport;
    // What a fault left behind (the jobs a killed worker held, the calls an outage caught) drains
    // after the load; how long that takes is reported, up to this limit.
    const settleLimitMs = chaos ? 300_000 : 60_000;
    const settleStarted = Date.now();
    let settledMs: number | null = null;
    try {
      report = await expectLedgerBalanced(sources, {
        expectedStatus: (a) => KINDS.find((k) => k.kind === kindByApp.get(a.appId))?.expect ?? ['OPENED'],
        // A cancel that lands while WeChat holds the call: WeChat keeps the application, the row stays
        // CANCELLED and that call has no ATTEMPT in its history (the transition refuses a non-QUEUED row).
        unrecordedCallsAllowed: (appId) => (kindByApp.get(appId) === 'cancelled' ? 1 : 0) + (chaos ? 2 : 0),
        timeoutMs: settleLimitMs,
        intervalMs: 1_000,
      });
      settledMs = Date.now() - settleStarted;
    } catch (err) {
      if (!(err instanceof LedgerImbalance)) throw err;
      report = err.report;
    }
    // Subscribers get the last change a little after the row is written.
    const tenantIds = clients.map((c) => c.tenantId);
    // Read again before each check: a backlogged run keeps moving rows after the ledger gave up.
    const readRows = () =>
      database.db
        .select({ id: liveApplications.id, status: liveApplications.status })
        .from(liveApplications)
        .where(inArray(liveApplications.tenantId, tenantIds));
    const finalRows = await readRows();
    let rows = new Map<string, string>(finalRows.map((r) => [r.id, r.status]));
    const refreshRows = async () => {
      rows = new Map((await readRows()).map((r) => [r.id, r.status]));
    };
    const missed = () =>
      subscribers.map((s) => ({
        s,
        missing: accepted.filter((a) => clients[s.tenant]?.tenantId === a.tenantId && ((s.seen.get(a.id) ?? 0) & statusBit(rows.get(a.id) ?? '')) === 0),
      }));
    let gaps = missed();
    for (let i = 0; i < 20 && gaps.some((g) => g.missing.length > 0); i++) {
      await sleep(250);
      await refreshRows();
      gaps = missed();
    }
    // The outbound side: every acknowledged push relayed verbatim, every committed change delivered signed.
    let webhooks: WebhookLedgerReport;
    try {
      webhooks = await webhookLedger.expectBalanced({ timeoutMs: chaos ? 60_000 : 30_000 });
    } catch {
      webhooks = await webhookLedger.check();
    }
    clearInterval(sampler);
    const rssEnd = processes.map((p) => p.rssKiB());
    const selfEnd = readRssKiB(process.pid);
    // A subscriber that got the final status and then an older one shows a stale state: a problem.
    await refreshRows();
    const outOfOrder = subscribers.reduce(
      (n, s) =>
        n +
        accepted.filter((a) => {
          const final = rows.get(a.id) ?? '';
          return ((s.seen.get(a.id) ?? 0) & statusBit(final)) !== 0 && s.last.get(a.id) !== final;
        }).length,
      0,
    );

    // Graceful stop: subscribers leave, then every process drains and exits 0.
    await Promise.all(subscribers.map((s) => s.dispose().catch(() => {})));
    const exits = await Promise.all(processes.map((p) => p.stop()));

    const problems: string[] = [];
    problems.push(...report.problems);
    problems.push(...webhooks.problems.slice(0, 20));
    if (webhooks.problems.length > 20) problems.push(`... and ${webhooks.problems.length - 20} more webhook ledger problems`);
    if (messages.failed > 0) problems.push(`${messages.failed} customer messages the simulator could not push (its admin API failed)`);
    // What a stuck application's job is doing, to say why it is stuck rather than only that it is.
    const expectedOf = (id: string) => {
      const a = accepted.find((x) => x.id === id);
      return KINDS.find((k) => k.kind === kindByApp.get(a?.appId ?? ''))?.expect ?? ['OPENED'];
    };
    const stuck = finalRows.filter((r) => r.status === 'QUEUED' || !expectedOf(r.id).includes(r.status as ApplicationStatus));
    if (stuck.length > 0) {
      const queue = new Queue(APPLY_QUEUE_NAME, { connection: redis, prefix: bullPrefix(redisPrefix) });
      for (const r of stuck.slice(0, 10)) {
        const job = await queue.getJob(r.id);
        const state = job ? await job.getState() : 'no job';
        const history = await database.db
          .select({ type: liveApplicationEvents.type, errcode: liveApplicationEvents.errcode, message: liveApplicationEvents.message })
          .from(liveApplicationEvents)
          .where(eq(liveApplicationEvents.applicationId, r.id))
          .orderBy(liveApplicationEvents.id);
        // The row as the drain left it: finalRows was read at the deadline, the history after the stop.
        const [after] = await database.db.select({ status: liveApplications.status }).from(liveApplications).where(eq(liveApplications.id, r.id));
        const appId = accepted.find((a) => a.id === r.id)?.appId;
        const pushes = relay.records.filter((p) => p.appId === appId && p.kind === 'event');
        problems.push(
          `  ${r.id} ${r.status} at the deadline, ${after?.status ?? 'gone'} after the stop (${kindByApp.get(appId ?? '')}; pushes to it: ${pushes.map((p) => `${new Date(p.atMs).toISOString().slice(11, 23)} ${p.status}`).join(', ') || 'none'}): job ${state}${job ? `, ${job.attemptsMade} attempts, delay ${job.delay} ms, failed: ${job.failedReason ?? '-'}, data ${JSON.stringify(job.data).slice(0, 160)}` : ''}; history after the stop ${history.map((h) => `${h.type}${h.errcode === null ? '' : `(${h.errcode})`}${h.message ? ` ${h.message.slice(0, 60)}` : ''}`).join(' → ')}`,
        );
      }
      await queue.close();
    }
    const named = (bits: number) => APPLICATION_STATUSES.filter((st) => (bits & statusBit(st)) !== 0).join('+') || 'nothing';
    // When each status a subscriber missed was committed, to place it against the chaos timeline.
    const committedAt = new Map<string, string>();
    const missedIds = [...new Set(gaps.flatMap((g) => g.missing.slice(0, 3).map((a) => a.id)))];
    if (missedIds.length > 0) {
      const events = await database.db
        .select({ applicationId: liveApplicationEvents.applicationId, status: liveApplicationEvents.status, createdAt: liveApplicationEvents.createdAt })
        .from(liveApplicationEvents)
        .where(inArray(liveApplicationEvents.applicationId, missedIds));
      for (const e of events) {
        if (e.status !== null && e.status === rows.get(e.applicationId))
          committedAt.set(
            e.applicationId,
            `${e.createdAt.toISOString().slice(11, 23)}, ${((e.createdAt.getTime() - started) / 1000).toFixed(1)} s into the load`,
          );
      }
    }
    for (const g of gaps) {
      if (g.missing.length === 0) continue;
      const sample = g.missing
        .slice(0, 3)
        .map(
          (a) =>
            `${a.id.slice(0, 8)} ${rows.get(a.id)} committed ${committedAt.get(a.id) ?? '?'} (saw ${named(g.s.seen.get(a.id) ?? 0)}, last ${g.s.last.get(a.id) ?? '-'})`,
        );
      problems.push(
        `subscriber ${g.s.name} (reconnected ${g.s.reconnects()} times) never saw the final status of ${g.missing.length} applications: ${sample.join('; ')}`,
      );
    }
    // Outbound deliveries not delivered, by state and last error: why a relay or event is missing.
    const undelivered = await database.db
      .select({
        status: webhookDeliveries.status,
        eventType: webhookDeliveries.eventType,
        attempts: webhookDeliveries.attempts,
        lastError: webhookDeliveries.lastError,
      })
      .from(webhookDeliveries)
      .where(and(inArray(webhookDeliveries.tenantId, tenantIds), ne(webhookDeliveries.status, 'DELIVERED')));
    if (webhooks.problems.length > 0 && undelivered.length > 0) {
      problems.push(
        `  undelivered: ${undelivered
          .slice(0, 5)
          .map((d) => `${d.eventType} ${d.status} after ${d.attempts} attempts (${d.lastError?.slice(0, 80) ?? 'no error'})`)
          .join('; ')}${undelivered.length > 5 ? `; ${undelivered.length - 5} more` : ''}`,
      );
    }
    exits.forEach((code, i) => {
      if (code === 0) return;
      const hung = (processes[i]?.problems ?? []).filter((line) => line.includes('shutdown step still running')).pop();
      problems.push(`${names[i]} exited ${code} at shutdown${hung ? `: ${hung.slice(0, 200)}` : ''}`);
    });
    // Every warning and error of every process, for the post-mortem (bench/results is not committed).
    const logDir = fileURLToPath(new URL('./results/soak/', import.meta.url));
    mkdirSync(logDir, { recursive: true });
    for (const p of [...processes, ...killed]) writeFileSync(`${logDir}${p.role}-${p.pid}.log`, p.problems.join('\n'));
    log(`warnings and errors of each process: ${logDir}<role>-<pid>.log`);
    // An apply job that stayed in one step (the worker logs it once, with the step): named, not only counted.
    processes.forEach((p, i) => {
      const stuckRuns = p.problems.filter((line) => line.includes('apply job stuck in one step'));
      if (stuckRuns.length > 0) problems.push(`${names[i]}: ${stuckRuns.length} apply jobs stuck in one step, first: ${stuckRuns[0]?.slice(0, 300)}`);
    });
    const errorLogs: string[] = [];
    processes.forEach((p, i) => {
      const bad = p.problems.filter((line) => !line.startsWith('{') || (JSON.parse(line) as { level: number }).level >= 50);
      if (bad.length === 0) return;
      // Under chaos the faults are logged as errors (a lost connection, WeChat unreachable): reported, not failed.
      if (chaos) errorLogs.push(`  ${names[i]}: ${bad.length} error lines, first: ${bad[0]?.slice(0, 200)}`);
      else problems.push(`${names[i]} logged ${bad.length} errors, first: ${bad[0]?.slice(0, 300)}`);
    });
    // Memory flat: no process of the whole run ends more than 50 % (and 100 MiB) above where it started.
    processes.forEach((_p, i) => {
      if (killed.length > 0 && i === 2) return;
      const start = rssStart[i] ?? 0;
      const end = rssEnd[i] ?? 0;
      if (end > start * 1.5 && end - start > 100 * 1024) problems.push(`${names[i]} memory grew from ${mib(start)} to ${mib(end)}`);
    });
    if (outOfOrder > 0) problems.push(`${outOfOrder} times a subscriber's last status for an application was older than one it had already seen`);
    for (const e of errors.slice(0, 5)) problems.push(`load: ${e}`);

    const f = report.figures;
    const statuses = Object.entries(f.byStatus)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    const redeliveries = relay.records.reduce((n, r) => n + (r.deliveries ?? 1) - 1, 0);
    const lines = [
      '',
      `soak: ${minutes} min at ${rate} applies/s, load ran ${loadSeconds.toFixed(0)} s; ${
        settledMs === null
          ? `the ledger did not balance within ${settleLimitMs / 1000} s after it`
          : `the ledger balanced ${(settledMs / 1000).toFixed(0)} s after it`
      }`,
      `applications: ${accepted.length} accepted${refused > 0 ? `, ${refused} refused` : ''} — ${statuses}`,
      `applyliveinfo calls: ${f.applyCalls} (${f.unrecordedCalls} with no recorded outcome)`,
      `pushes: ${relay.records.length} (${f.pushesAcknowledged} acknowledged, ${f.pushesRefused} refused, ${redeliveries} redeliveries); inbox ${f.inboxRows} rows, ${f.inboxUnprocessed} unprocessed`,
      `customer messages pushed: ${messages.sent} (${(messages.sent / loadSeconds).toFixed(0)}/s of ${pushRate}/s asked); reads: ${reads.ok} answered (${(reads.ok / loadSeconds).toFixed(0)}/s of ${readRate}/s asked), ${reads.failed} failed`,
      `the soak process itself (load, simulator, relay, receiver, subscribers): CPU up to ${pct(selfLoad.cpuPeak)} of a core over 10 s, event-loop delay p99 up to ${selfLoad.delayP99PeakMs.toFixed(0)} ms`,
      `webhooks: relay ${webhooks.figures.relaysReceived} of ${webhooks.figures.relaysExpected} acknowledged pushes verbatim, events ${webhooks.figures.eventsReceived} of ${webhooks.figures.eventsExpected} committed changes signed, ${webhooks.figures.duplicates} duplicates (at least once); ${webhooks.figures.pushDuplicates} pushes answered as repeats of a stored one (not relayed themselves)`,
      `load: ${shares.join(', ')}: ${pct(loadShare)} of the bench capacity (${CAPACITY.source})`,
      `subscriptions: ${subscribers.length} subscribers, ${subscribers.reduce((n, s) => n + s.events, 0)} deliveries, ${subscribers.reduce((n, s) => n + s.reconnects(), 0)} reconnects (each resumed after its last cursor), ${outOfOrder} ended on an older status after the final one`,
      'memory (VmRSS): process      start      end      peak',
      ...processes.map(
        (p, i) =>
          `  ${(names[i] ?? '').padEnd(9)} pid ${String(p.pid).padEnd(7)} ${mib(rssStart[i] ?? 0).padStart(9)} ${mib(rssEnd[i] ?? 0).padStart(9)} ${mib(rssPeak[i] ?? 0).padStart(9)}`,
      ),
      `  soak (simulator, relay, load, subscribers) ${mib(selfStart)} → ${mib(selfEnd)}`,
      'memory each minute (VmRSS, MiB):',
      ...processes.map((_p, i) => `  ${(names[i] ?? '').padEnd(9)} ${(rssByMinute[i] ?? []).map((kib) => Math.round(kib / 1024)).join(' ')}`),
      ...(chaos
        ? [
            `chaos: ${faults.length === 0 ? 'no fault ran' : ''}`,
            ...faults.map((f) => `  ${f}`),
            `  console retries of refused mutations: ${consoleRetries}`,
            ...(errorLogs.length > 0 ? ['  error log lines (expected around faults):', ...errorLogs] : []),
          ]
        : []),
      problems.length === 0 ? 'result: ledger balanced, every subscriber saw every final status, clean shutdown' : `result: ${problems.length} problems`,
      ...problems.map((p) => `  ✗ ${p}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return problems.length === 0 ? 0 : 1;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
