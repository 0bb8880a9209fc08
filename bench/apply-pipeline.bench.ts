/**
 * Figure 3, the apply pipeline: applications per second from `applyLiveBatch` (the service the
 * mutation calls) to SUBMITTED, on real Postgres and Redis, against the WeChat simulator over
 * HTTP, with `src/jobs/worker-main.ts` as 1 and 2 processes (quotas raised so no limit binds).
 * Beside it, each round, BullMQ no-op jobs on the same Redis. Authorizer tokens are fetched
 * before the clock starts (they live 2 h; a real backlog mostly finds them cached). CPU per
 * application is reported per party: workers, this process (simulator and enqueue), Postgres,
 * Redis. Workers are not pinned (they share both cores with everything else).
 *
 * Issue 14's events figure rides along: the tenant has an EVENTS endpoint on a loopback receiver
 * here, the outbox relay makes an `application.updated` delivery for every transition, and the
 * workers send them. Beside SUBMITTED per second: the SUBMITTED events received per second, from
 * the first enqueue to the last one received (keeping up: >= 1.0x).
 * `npx tsx bench/apply-pipeline.bench.ts`; about a minute. BENCH_ROUNDS, BENCH_CONCURRENCY,
 * BENCH_APPLICATIONS, BENCH_WORKERS (e.g. `2`) and BENCH_WORKER_ARGS (e.g. `--cpu-prof`) narrow it.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { RedisChangePublisher } from '../src/events/change-feed.js';
import { ChangeSubscriber } from '../src/events/change-subscriber.js';
import { OutboxRelay } from '../src/events/outbox-relay.js';
import { ApplyQueue } from '../src/jobs/apply-queue.js';
import { createWebhookDelivery } from '../src/jobs/webhook-runtime.js';
import { bullPrefix } from '../src/jobs/quota-keys.js';
import { systemClock } from '../src/lib/clock.js';
import { silentLogger } from '../src/lib/logger.js';
import { LiveApplicationLifecycle } from '../src/services/live-application/index.js';
import { AuthorizersService } from '../src/services/authorizers.service.js';
import { PgCredentialStore } from '../src/services/credential-store.pg.js';
import { WebhookEndpointsService } from '../src/services/webhooks/endpoints.service.js';
import { SimulatorAdmin } from '../src/wechat/simulator/admin-client.js';
import { startSimulator } from '../src/wechat/simulator/server.js';
import { createWechatApi } from '../src/wechat/wechat-api.js';
import { createTenantWithMerchants, randomAppId } from '../test/support/fixtures.js';
import globalSetup from '../test/support/global-setup.js';
import { createTestEnv, type TestEnv } from '../test/support/test-env.js';
import { type BenchProcess, cpuSecondsOf, pinSelf, spawnBenchProcess } from './support/processes.js';
import { median, sleep } from './support/stats.js';

export interface ApplyPipelineBenchOptions {
  /** Applications per pipeline run (default 1500). */
  applications?: number;
  /** BullMQ no-op jobs per round (default 20,000). */
  noopJobs?: number;
  /** Worker processes per pipeline run (default [1, 2]). */
  workerCounts?: number[];
  /** Jobs each worker runs at once (WORKER_CONCURRENCY; default 50). */
  concurrency?: number;
  rounds?: number;
  /** Extra node flags for the worker processes, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/prof']. */
  workerNodeArgs?: string[];
  log?: (line: string) => void;
}

export interface PipelineRun {
  workers: number;
  applications: number;
  seconds: number;
  /** Applications per second, from the first enqueue to the last SUBMITTED row. */
  perSecond: number;
  /** CPU per application, microseconds, by party. */
  cpuUs: { workers: number; benchAndSimulator: number; postgres: number; redis: number };
  /** `application.updated` events with status SUBMITTED received per second (null: not all arrived within 60 s). */
  submittedEventsPerSecond: number | null;
  /** SUBMITTED events received of `applications`. */
  submittedEvents: number;
  /** From SUBMITTED reaching the change feed to its event at the receiver, per application: p50 / p99 / max ms. */
  eventLagMs: { p50: number; p99: number; max: number } | null;
}

export interface NoopRun {
  jobs: number;
  addedPerSecond: number;
  processedPerSecond: number;
}

export interface ApplyPipelineBenchResult {
  rounds: number;
  noop: NoopRun[];
  pipeline: PipelineRun[];
  median: { noopProcessedPerSecond: number; perSecondByWorkers: Record<string, number>; eventsPerSecondByWorkers: Record<string, number | null> };
}

export async function runApplyPipelineBench(options: ApplyPipelineBenchOptions = {}): Promise<ApplyPipelineBenchResult> {
  const log = options.log ?? (() => {});
  const applications = options.applications ?? 1500;
  const noopJobs = options.noopJobs ?? 20_000;
  const concurrency = options.concurrency ?? 50;
  const rounds = options.rounds ?? 3;
  const workerCounts = options.workerCounts ?? [1, 2];
  await globalSetup();
  const env = await createTestEnv();
  const sim = await startSimulator({ port: 0 });
  const running: BenchProcess[] = [];
  try {
    const db = env.database.db;
    const admin = new SimulatorAdmin(sim.url);
    const store = new PgCredentialStore(db, env.box, systemClock);
    const wechat = createWechatApi({ baseUrl: sim.url, redis: env.redis, prefix: env.redisPrefix, store, clock: systemClock });
    // The bench's outbox relay makes the events' deliveries as the workers' own relays do.
    const outbound = createWebhookDelivery({ db, box: env.box, redis: env.redis, redisPrefix: env.redisPrefix, clock: systemClock, logger: silentLogger });
    const publisher = new OutboxRelay({
      db,
      redis: new RedisChangePublisher(env.redis, env.redisPrefix),
      clock: systemClock,
      logger: silentLogger,
      fanOut: outbound.fanOut,
    });
    const endpoints = new WebhookEndpointsService({ db, box: env.box, clock: systemClock, urlPolicy: { allowHttp: true, allowPrivateAddresses: true } });
    /** The EVENTS receiver: answers 204 at once, and notes when each application's SUBMITTED event arrived. */
    const submittedAt = new Map<string, number>();
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string; data: { id: string; status: string } };
        if (event.type === 'application.updated' && event.data.status === 'SUBMITTED' && !submittedAt.has(event.data.id)) {
          submittedAt.set(event.data.id, performance.now());
        }
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`;
    const queue = new ApplyQueue({ redis: env.redis, redisPrefix: env.redisPrefix, clock: systemClock, maxAttempts: 5, backoffMs: 100 });
    const authorizers = new AuthorizersService(db, env.box, systemClock);
    const service = new LiveApplicationLifecycle({ db, authorizers, queue, publisher, clock: systemClock, logger: silentLogger });
    // SUBMITTED rows are counted from the change feed (every transition is published), not by
    // polling Postgres, which would add its own load to the figure.
    const changes = new ChangeSubscriber(env.newRedis({ maxRetriesPerRequest: null }), env.redisPrefix, silentLogger);
    await changes.start();

    /** A tenant with `applications` merchants, registered with the simulator, tokens cached. */
    const prepareTenant = async () => {
      const t = await createTenantWithMerchants(db, env.box, 0, { callsPerSecond: 1_000_000, dailyQuotaPerApp: 100, dailyQuotaPerTenant: null });
      t.appIds.push(...Array.from({ length: applications }, randomAppId));
      // The import takes at most 1,000 merchants at a time.
      for (let i = 0; i < applications; i += 1000) {
        await authorizers.import(
          t.ctx,
          t.appIds.slice(i, i + 1000).map((appId) => ({ appId, refreshToken: `refresh-${appId}`, permissionSets: [52] })),
        );
      }
      const { ticket } = await admin.registerComponent({
        componentAppId: t.input.componentAppId,
        componentAppSecret: t.input.componentAppSecret,
        token: t.input.token,
        encodingAesKey: t.input.encodingAesKey,
      });
      await store.saveTicket(t.tenant.id, ticket);
      const endpoint = await endpoints.create(t.ctx, { url: receiverUrl, kind: 'EVENTS', events: ['application.updated'] });
      if (!endpoint.endpoint) throw new Error(`createWebhookEndpoint: ${JSON.stringify(endpoint.userErrors)}`);
      for (const appId of t.appIds)
        sim.state.addAuthorizer({ componentAppId: t.input.componentAppId, appId, refreshToken: `refresh-${appId}`, funcInfo: [52] });
      for (let i = 0; i < t.appIds.length; i += 50) {
        await Promise.all(t.appIds.slice(i, i + 50).map((appId) => wechat.tokens.getAuthorizerToken(t.tenant.id, appId)));
      }
      return t;
    };

    const noop: NoopRun[] = [];
    const pipeline: PipelineRun[] = [];
    for (let round = 1; round <= rounds; round++) {
      const n = await benchNoop(env.redis, () => env.newRedis({ maxRetriesPerRequest: null }), env.redisPrefix, noopJobs);
      noop.push(n);
      log(`pipeline round ${round} BullMQ no-op: ${Math.round(n.processedPerSecond)} jobs/s processed, ${Math.round(n.addedPerSecond)}/s added`);
      for (const workers of workerCounts) {
        const t = await prepareTenant();
        const started = await Promise.all(Array.from({ length: workers }, () => spawnWorker(env, sim.url, concurrency, options.workerNodeArgs)));
        running.push(...started);
        const cpu0 = {
          workers: started.map((w) => w.cpuSeconds()),
          self: process.cpuUsage(),
          pg: cpuSecondsOf('postgres'),
          redis: cpuSecondsOf('redis-server'),
        };
        let submitted = 0;
        let allSubmitted: () => void = () => {};
        const done = new Promise<void>((resolve) => {
          allSubmitted = resolve;
        });
        const ids = new Map<string, number>();
        const unlisten = changes.listen(t.tenant.id, (change) => {
          if (change.application.status !== 'SUBMITTED' || ids.has(change.application.id)) return;
          ids.set(change.application.id, performance.now());
          if (++submitted === applications) allSubmitted();
        });
        const t0 = performance.now();
        for (let i = 0; i < t.appIds.length; i += 1000) await service.applyBatch(t.ctx, t.appIds.slice(i, i + 1000));
        const timedOut = await Promise.race([done.then(() => false), sleep(40_000).then(() => true)]);
        unlisten();
        if (timedOut) throw new Error(`only ${submitted} of ${applications} SUBMITTED after 40 s`);
        const seconds = (performance.now() - t0) / 1000;
        const self = process.cpuUsage(cpu0.self);
        // The events: every SUBMITTED one of this tenant's applications at the receiver, or 60 s more at most.
        const eventsOf = () => [...ids.keys()].filter((id) => submittedAt.has(id));
        const eventsDeadline = performance.now() + 60_000;
        while (eventsOf().length < applications && performance.now() < eventsDeadline) await sleep(50);
        const received = eventsOf();
        const lastEvent = Math.max(...received.map((id) => submittedAt.get(id) as number));
        const submittedEventsPerSecond = received.length === applications ? Math.round(applications / ((lastEvent - t0) / 1000)) : null;
        const lags = received.map((id) => (submittedAt.get(id) as number) - (ids.get(id) as number)).sort((a, b) => a - b);
        const at = (q: number) => Math.round(lags[Math.min(lags.length - 1, Math.floor(q * lags.length))] as number);
        const eventLagMs = lags.length === 0 ? null : { p50: at(0.5), p99: at(0.99), max: Math.round(lags[lags.length - 1] as number) };
        const per = (s: number) => Math.round((s * 1e6) / applications);
        const run: PipelineRun = {
          workers,
          applications,
          seconds: Math.round(seconds * 100) / 100,
          perSecond: Math.round(applications / seconds),
          cpuUs: {
            workers: per(started.reduce((sum, w, i) => sum + w.cpuSeconds() - (cpu0.workers[i] ?? 0), 0)),
            benchAndSimulator: per((self.user + self.system) / 1e6),
            postgres: per(cpuSecondsOf('postgres') - cpu0.pg),
            redis: per(cpuSecondsOf('redis-server') - cpu0.redis),
          },
          submittedEventsPerSecond,
          submittedEvents: received.length,
          eventLagMs,
        };
        pipeline.push(run);
        log(
          `pipeline round ${round} ${workers} worker(s): ${run.perSecond} applications/s; SUBMITTED events ${run.submittedEventsPerSecond ?? `only ${run.submittedEvents} of ${applications} in 60 s`}/s, lag after SUBMITTED p50/p99/max ${run.eventLagMs ? `${run.eventLagMs.p50}/${run.eventLagMs.p99}/${run.eventLagMs.max}` : '-'} ms; CPU µs/application ${JSON.stringify(run.cpuUs)}`,
        );
        await Promise.all(started.map((w) => w.stop()));
      }
    }
    await queue.close();
    await outbound.close();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    const perSecondByWorkers = Object.fromEntries(
      workerCounts.map((w) => [String(w), median(pipeline.filter((p) => p.workers === w).map((p) => p.perSecond))]),
    );
    // A run whose events did not all arrive counts as 0 (below any baseline), not as missing.
    const eventsPerSecondByWorkers = Object.fromEntries(
      workerCounts.map((w) => [String(w), median(pipeline.filter((p) => p.workers === w).map((p) => p.submittedEventsPerSecond ?? 0))]),
    );
    return {
      rounds,
      noop,
      pipeline,
      median: { noopProcessedPerSecond: Math.round(median(noop.map((n) => n.processedPerSecond))), perSecondByWorkers, eventsPerSecondByWorkers },
    };
  } finally {
    await Promise.all(running.map((p) => p.stop()));
    await sim.stop();
    await env.cleanup();
  }
}

/** `src/jobs/worker-main.ts` as its own process, on every core (this process may be pinned). */
function spawnWorker(env: TestEnv, wechatApiBase: string, concurrency: number, nodeArgs: string[] = []): Promise<BenchProcess> {
  return spawnBenchProcess('src/jobs/worker-main.ts', {
    cores: `0-${cpus().length - 1}`,
    nodeArgs,
    readyLine: /apply worker started/,
    env: {
      DATABASE_URL: env.databaseUrl,
      REDIS_URL: env.redisUrl,
      REDIS_PREFIX: env.redisPrefix,
      SECRET_KEY: env.secretKey.toString('base64'),
      WECHAT_API_BASE: wechatApiBase,
      LOG_LEVEL: 'info',
      WORKER_CONCURRENCY: String(concurrency),
      // The EVENTS receiver is on loopback, over http.
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true',
      // Its own metrics port: a fixed one collides between the two workers and with other gateways here.
      METRICS_PORT: '0',
    },
  });
}

async function benchNoop(redis: Redis, workerConnection: () => Redis, redisPrefix: string, jobs: number): Promise<NoopRun> {
  const prefix = bullPrefix(redisPrefix);
  const queue = new Queue('bench-noop', { connection: redis, prefix });
  const a0 = performance.now();
  for (let i = 0; i < jobs; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, jobs - i) }, (_, n) => ({ name: 'noop', data: { n: i + n }, opts: { removeOnComplete: true } })));
  }
  const addedPerSecond = jobs / ((performance.now() - a0) / 1000);
  let done = 0;
  const p0 = performance.now();
  const finished = new Promise<void>((resolve) => {
    const worker = new Worker('bench-noop', async () => {}, { connection: workerConnection(), prefix, concurrency: 50 });
    worker.on('completed', () => {
      done += 1;
      if (done === jobs) void worker.close().then(resolve);
    });
  });
  await finished;
  const processedPerSecond = jobs / ((performance.now() - p0) / 1000);
  await queue.obliterate({ force: true });
  await queue.close();
  return { jobs, addedPerSecond, processedPerSecond };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  pinSelf('1');
  runApplyPipelineBench({
    log: (line) => process.stderr.write(`${line}\n`),
    ...(process.env.BENCH_ROUNDS ? { rounds: Number(process.env.BENCH_ROUNDS) } : {}),
    ...(process.env.BENCH_CONCURRENCY ? { concurrency: Number(process.env.BENCH_CONCURRENCY) } : {}),
    ...(process.env.BENCH_APPLICATIONS ? { applications: Number(process.env.BENCH_APPLICATIONS) } : {}),
    // e.g. BENCH_WORKERS=2: only the 2-worker runs.
    ...(process.env.BENCH_WORKERS ? { workerCounts: process.env.BENCH_WORKERS.split(',').map(Number) } : {}),
    // e.g. BENCH_WORKER_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (split on spaces).
    ...(process.env.BENCH_WORKER_ARGS ? { workerNodeArgs: process.env.BENCH_WORKER_ARGS.split(' ').filter(Boolean) } : {}),
  }).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result.median, null, 2)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
