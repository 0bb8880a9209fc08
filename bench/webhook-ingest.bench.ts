/**
 * Figure 2, webhook ingest: encrypted `wxa_live_apply_event` pushes per second through the
 * gateway (ROLE=api: verified, replay-checked, stored in the inbox and answered; each then opens
 * an application and publishes the change), beside a plain node:http server doing the same INSERT
 * through the same pool. Then, at half the gateway's measured rate, the time from a push leaving
 * the load generator to a graphql-ws subscriber receiving the change. Servers are child processes
 * pinned to core 0; the load (autocannon) and the subscriber run here (meant for core 1).
 * `npx tsx bench/webhook-ingest.bench.ts`; about 45 s. Options (environment):
 * WEBHOOK_BENCH_ROUNDS (default 3) and WEBHOOK_BENCH_SECONDS (per run, default 5) shorten it;
 * WEBHOOK_BENCH_POOL sets the servers' DB_POOL_SIZE (default 10; the gateway processes
 * DB_POOL_SIZE - 2 pushes at once); WEBHOOK_BENCH_CPU_PROF=dir writes the gateway's CPU profile
 * there. Each gateway run also reports the Postgres transactions per push (pg_stat_database of
 * the bench database, receipt to processed, the bench's own polling included), a figure the
 * machine's load moves little.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { count, eq, sql } from 'drizzle-orm';
import { rowsOf } from '../src/db/client.js';
import { webhookInbox } from '../src/db/tables.js';
import { MsgCrypt, plainSignature } from '../src/wechat/wire/msg-crypt.js';
import { pushIdentity, readQuery, verifyPush } from '../src/webhooks/push-verifier.js';
import { buildEnvelope, buildLiveApplyEventXml } from '../src/wechat/wire/push-xml.js';
import { BENCH_REDIS_URL, type BenchDatabase, type BenchTenant, createBenchDatabase, createBenchTenant, deleteRedisPrefix } from './support/bench-db.js';
import { type CannonRequest, runLoad } from './support/load.js';
import { type BenchProcess, cpuSecondsOf, pinSelf, spawnBenchProcess } from './support/processes.js';
import { sendPaced } from './support/paced.js';
import { median, quantile, sleep } from './support/stats.js';
import { subscribe } from './support/ws-subscriber.js';

export interface IngestRun {
  /** Inbox rows stored per second of the run. */
  storedPerSec: number;
  stored: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
  /** Server CPU per stored push, microseconds. */
  cpuUsPerPush: number;
  /**
   * Gateway only: pushes fully processed (application opened, change published) per second, from
   * the start of the run until the backlog it left was worked off.
   */
  processedPerSec?: number;
  postgresCpuUsPerPush: number;
  /** Gateway only: committed and rolled-back transactions of the bench database per stored push, until processed. */
  transactionsPerPush?: number;
}

export interface WebhookIngestFigures {
  connections: number;
  secondsPerRun: number;
  rounds: number;
  /** Verify + decrypt + parse + identity of one push, in this process, no I/O. */
  cryptoParseOpsPerSec: number;
  runs: { gateway: IngestRun[]; plain: IngestRun[] };
  median: { gateway: number; plain: number };
  /** Pushes the gateway had processed (application opened, change published) by the end of the runs. */
  processedDuringRuns: number;
  /** Median of the runs' processedPerSec. */
  processedPerSecMedian: number;
  /** Push sent -> subscriber has the change, at half the gateway's stored/s. */
  latency: LatencyFigure;
  /** The same at a light load (100/s), for comparison. */
  latencyLight: LatencyFigure;
}

export interface LatencyFigure {
  ratePerSec: number;
  pushes: number;
  delivered: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface WebhookBenchOptions {
  rounds?: number;
  secondsPerRun?: number;
  connections?: number;
  latencySeconds?: number;
  serverCores?: string;
  log?: (line: string) => void;
}

export interface Prepared {
  appId: string;
  path: string;
  body: string;
}

const SUBSCRIPTION = 'subscription { liveApplicationUpdated { appId status } }';

export async function runWebhookIngestBench(options: WebhookBenchOptions = {}): Promise<WebhookIngestFigures> {
  const log = options.log ?? (() => {});
  const rounds = options.rounds ?? 3;
  const seconds = options.secondsPerRun ?? 5;
  const connections = options.connections ?? 20;
  const bench = await createBenchDatabase();
  const running: BenchProcess[] = [];
  const redisPrefix = `bench-${randomBytes(4).toString('hex')}`;
  try {
    const tenant = await createBenchTenant(bench, 0);
    const prepare = pushFactory(tenant);
    const cryptoParseOpsPerSec = measureCryptoParse(tenant, prepare);
    log(`webhook crypto+parse: ${cryptoParseOpsPerSec} ops/s in-process`);

    const env = serverEnv(bench, tenant, redisPrefix);
    // WEBHOOK_BENCH_CPU_PROF=dir: the gateway writes a V8 CPU profile there when it stops.
    const profDir = process.env.WEBHOOK_BENCH_CPU_PROF;
    const gateway = await spawnBenchProcess('bench/servers/gateway.server.ts', {
      env,
      cores: options.serverCores ?? '0',
      ...(profDir ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir] } : {}),
    });
    running.push(gateway);
    const plain = await spawnBenchProcess('bench/servers/plain-insert.server.ts', { env, cores: options.serverCores ?? '0' });
    running.push(plain);
    const gatewayUrl = String(gateway.ready.url);
    const plainUrl = String(plain.ready.url);

    // Enough distinct pushes for the fastest plausible run; each is sent once.
    const perRun = Math.min(60_000, Math.max(5_000, Math.round(cryptoParseOpsPerSec * seconds * 0.5)));
    const run = async (which: 'gateway' | 'plain', secs: number, pushes: Prepared[], rate?: number): Promise<IngestRun> => {
      const p = which === 'gateway' ? gateway : plain;
      const eventType = which === 'gateway' ? 'wxa_live_apply_event' : 'plain';
      const before = await storedCount(bench, eventType);
      const processed0 = await processedCount(bench);
      const xact0 = await transactionCount(bench);
      const t0 = performance.now();
      const cpu0 = p.cpuSeconds();
      const pg0 = cpuSecondsOf('postgres');
      const result = await runLoad({
        url: which === 'gateway' ? gatewayUrl : plainUrl,
        connections,
        seconds: secs,
        maxRequests: pushes.length - connections,
        requests: [pushRequest(pushes)],
        ...(rate === undefined ? {} : { rate }),
      });
      const stored = (await storedCount(bench, eventType)) - before;
      const per = (s: number) => Math.round((s * 1e6) / Math.max(1, stored));
      let processedPerSec: number | undefined;
      let transactionsPerPush: number | undefined;
      if (which === 'gateway') {
        // The backlog is worked off here, so it does not weigh on the next run either.
        await waitProcessed(bench, 30_000);
        processedPerSec = Math.round(((await processedCount(bench)) - processed0) / ((performance.now() - t0) / 1000));
        // Backends report their counts at most once a second.
        await sleep(1500);
        transactionsPerPush = Math.round((((await transactionCount(bench)) - xact0) / Math.max(1, stored)) * 100) / 100;
      }
      return {
        ...(processedPerSec === undefined ? {} : { processedPerSec }),
        ...(transactionsPerPush === undefined ? {} : { transactionsPerPush }),
        storedPerSec: Math.round(stored / result.seconds),
        stored,
        failed: result.failed,
        p50Ms: result.p50Ms,
        p99Ms: result.p99Ms,
        cpuUsPerPush: per(p.cpuSeconds() - cpu0),
        postgresCpuUsPerPush: per(cpuSecondsOf('postgres') - pg0),
      };
    };

    // Warm-up (JIT, pool connections, Redis scripts), not counted.
    await run('gateway', 1, prepareMany(prepare, 2000));
    await run('plain', 1, prepareMany(prepare, 2000));
    await waitProcessed(bench, 10_000);
    const runs = { gateway: [] as IngestRun[], plain: [] as IngestRun[] };
    for (let round = 1; round <= rounds; round++) {
      for (const which of ['gateway', 'plain'] as const) {
        // Prepared before the clock starts; timestamps stay well inside the replay window.
        const r = await run(which, seconds, prepareMany(prepare, perRun));
        runs[which].push(r);
        log(
          `webhook round ${round} ${which}: ${r.storedPerSec} stored/s, p99 ${r.p99Ms} ms, CPU/push µs: server ${r.cpuUsPerPush}, postgres ${r.postgresCpuUsPerPush}; ${r.failed} failed${r.processedPerSec === undefined ? '' : `; ${r.processedPerSec} processed/s (${(r.processedPerSec / Math.max(1, r.storedPerSec)).toFixed(2)}x), ${r.transactionsPerPush} Postgres transactions/push`}`,
        );
      }
    }
    const processedDuringRuns = await processedCount(bench);
    const gatewayMedian = median(runs.gateway.map((r) => r.storedPerSec));

    // Latency at half the maximum, and at a light load: push sent -> subscriber has the change.
    const half = Math.max(50, Math.round(gatewayMedian / 2));
    const latency = await measureLatency(gatewayUrl, tenant, prepare, connections, half, options.latencySeconds ?? 6);
    log(`webhook latency at ${half}/s: ${JSON.stringify(latency)}`);
    await waitProcessed(bench, 30_000);
    const latencyLight = await measureLatency(gatewayUrl, tenant, prepare, connections, 100, 3);
    log(`webhook latency at 100/s: ${JSON.stringify(latencyLight)}`);
    return {
      connections,
      secondsPerRun: seconds,
      rounds,
      cryptoParseOpsPerSec,
      runs,
      median: { gateway: gatewayMedian, plain: median(runs.plain.map((r) => r.storedPerSec)) },
      processedDuringRuns,
      processedPerSecMedian: median(runs.gateway.map((r) => r.processedPerSec ?? 0)),
      latency,
      latencyLight,
    };
  } finally {
    await Promise.all(running.map((p) => p.stop()));
    await deleteRedisPrefix(redisPrefix);
    await bench.drop();
  }
}

async function measureLatency(
  gatewayUrl: string,
  tenant: BenchTenant,
  prepare: () => Prepared,
  connections: number,
  rate: number,
  seconds: number,
): Promise<LatencyFigure> {
  const pushes = prepareMany(prepare, Math.round(rate * seconds) + 1);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const subscriber = await subscribe({
    url: `${gatewayUrl.replace('http:', 'ws:')}/graphql`,
    apiKey: tenant.apiKey,
    query: SUBSCRIPTION,
    onNext: (payload) => {
      const appId = (payload as { data?: { liveApplicationUpdated?: { appId?: string } } }).data?.liveApplicationUpdated?.appId;
      const at = appId === undefined ? undefined : sentAt.get(appId);
      if (at !== undefined) {
        latencies.push(performance.now() - at);
        sentAt.delete(appId as string);
      }
    },
  });
  try {
    await sleep(200);
    let next = 0;
    const run = await sendPaced({
      url: gatewayUrl,
      rate,
      seconds,
      connections,
      // Called at each push's scheduled time: the clock starts then, waiting for a connection included.
      next: () => {
        const p = pushes[next++ % pushes.length] as Prepared;
        sentAt.set(p.appId, performance.now());
        return { method: 'POST', path: p.path, headers: { 'content-type': 'text/xml' }, body: p.body };
      },
    });
    await waitFor(() => latencies.length >= run.ok, 5_000);
    return {
      ratePerSec: rate,
      pushes: run.ok,
      delivered: latencies.length,
      p50Ms: round1(quantile(latencies, 0.5)),
      p99Ms: round1(quantile(latencies, 0.99)),
      maxMs: round1(Math.max(0, ...latencies)),
    };
  } finally {
    subscriber.close();
  }
}

function serverEnv(bench: BenchDatabase, tenant: BenchTenant, redisPrefix: string): Record<string, string> {
  return {
    DATABASE_URL: bench.url,
    DB_POOL_SIZE: process.env.WEBHOOK_BENCH_POOL ?? '10',
    REDIS_URL: BENCH_REDIS_URL,
    REDIS_PREFIX: redisPrefix,
    SECRET_KEY: bench.secretKey.toString('base64'),
    ROLE: 'api',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    BENCH_TENANT_ID: tenant.id,
  };
}

/** Distinct signed and encrypted pushes for the tenant's event URL, each for a merchant of its own. */
export function pushFactory(tenant: BenchTenant): () => Prepared {
  const { token, encodingAesKey, componentAppId } = tenant.input;
  const crypt = new MsgCrypt({ token, encodingAesKey, appId: componentAppId });
  const run = randomBytes(3).toString('hex');
  let serial = 0;
  return () => {
    serial++;
    const createTime = String(Math.floor(Date.now() / 1000));
    const appId = `wx${run}${serial.toString(16).padStart(10, '0')}`;
    const xml = buildLiveApplyEventXml({ toUserName: 'gh_bench', fromUserName: `o_bench_${serial}`, createTime, appid: appId, openTime: createTime });
    const nonce = `${serial}${randomBytes(4).readUInt32BE()}`;
    const { encrypt, msgSignature } = crypt.encryptAndSign(xml, createTime, nonce);
    const query = new URLSearchParams({
      signature: plainSignature(token, createTime, nonce),
      timestamp: createTime,
      nonce,
      encrypt_type: 'aes',
      msg_signature: msgSignature,
    });
    return { appId, path: `/webhooks/wechat/${tenant.id}/events/${appId}?${query.toString()}`, body: buildEnvelope({ encrypt, toUserName: 'gh_bench' }) };
  };
}

export function prepareMany(prepare: () => Prepared, n: number): Prepared[] {
  return Array.from({ length: n }, prepare);
}

/** Each prepared push is sent once (autocannon stops before running out). */
export function pushRequest(pushes: Prepared[]): CannonRequest {
  let next = 0;
  return {
    method: 'POST',
    headers: { 'content-type': 'text/xml' },
    setupRequest: (request) => {
      const p = pushes[next++ % pushes.length] as Prepared;
      return { ...request, path: p.path, body: p.body };
    },
  };
}

function measureCryptoParse(tenant: BenchTenant, prepare: () => Prepared): number {
  const { token, encodingAesKey, componentAppId } = tenant.input;
  const crypt = new MsgCrypt({ token, encodingAesKey, appId: componentAppId });
  const sample = prepareMany(prepare, 1000);
  const verifyOptions = { acceptPlaintext: false, isFresh: () => true };
  let ops = 0;
  const started = performance.now();
  while (performance.now() - started < 1000) {
    const p = sample[ops % sample.length] as Prepared;
    const verified = verifyPush(crypt, readQuery(new URL(p.path, 'http://x').searchParams), p.body, verifyOptions);
    pushIdentity(verified.push, verified.plaintext, undefined);
    ops++;
  }
  return Math.round(ops / ((performance.now() - started) / 1000));
}

async function storedCount(bench: BenchDatabase, eventType: string): Promise<number> {
  const [row] = await bench.database.db.select({ n: count() }).from(webhookInbox).where(eq(webhookInbox.eventType, eventType));
  return row?.n ?? 0;
}

async function transactionCount(bench: BenchDatabase): Promise<number> {
  const result = await bench.database.db.execute(sql`select (xact_commit + xact_rollback)::text as n from pg_stat_database where datname = current_database()`);
  return Number(rowsOf<{ n: string }>(result)[0]?.n ?? 0);
}

async function processedCount(bench: BenchDatabase): Promise<number> {
  const [row] = await bench.database.db
    .select({ n: count(webhookInbox.processedAt) })
    .from(webhookInbox)
    .where(eq(webhookInbox.eventType, 'wxa_live_apply_event'));
  return row?.n ?? 0;
}

/** Until every stored live event is processed (or `timeoutMs`). */
async function waitProcessed(bench: BenchDatabase, timeoutMs: number): Promise<void> {
  await waitFor(async () => (await processedCount(bench)) >= (await storedCount(bench, 'wxa_live_apply_event')), timeoutMs);
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return true;
    await sleep(50);
  }
  return false;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  pinSelf('1');
  const figures = await runWebhookIngestBench({
    log: (line) => console.error(line),
    ...(process.env.WEBHOOK_BENCH_ROUNDS ? { rounds: Number(process.env.WEBHOOK_BENCH_ROUNDS) } : {}),
    ...(process.env.WEBHOOK_BENCH_SECONDS ? { secondsPerRun: Number(process.env.WEBHOOK_BENCH_SECONDS) } : {}),
  });
  console.log(JSON.stringify({ ...figures, runs: undefined }, null, 2));
}
