import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { and, count, eq } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import { liveApplications } from '../src/db/tables.js';
import { RedisChangePublisher } from '../src/events/change-feed.js';
import { ApplyQueue } from '../src/jobs/apply-queue.js';
import { bullPrefix } from '../src/jobs/quota-keys.js';
import { systemClock } from '../src/lib/clock.js';
import { silentLogger } from '../src/lib/logger.js';
import { ApplicationsService } from '../src/services/applications.service.js';
import { AuthorizersService } from '../src/services/authorizers.service.js';
import { PgCredentialStore } from '../src/services/credential-store.pg.js';
import { SimulatorAdmin } from '../src/wechat/simulator/admin-client.js';
import { startSimulator } from '../src/wechat/simulator/server.js';
import { createWechatApi } from '../src/wechat/wechat-api.js';
import { spawnWorkerProcess } from '../test/jobs/support/spawn-worker.js';
import { createTenantWithMerchants, randomAppId } from '../test/support/fixtures.js';
import globalSetup from '../test/support/global-setup.js';
import { createTestEnv } from '../test/support/test-env.js';

export interface ApplyPipelineBenchOptions {
  /** Applications per pipeline run (default 2000). */
  applications?: number;
  /** Plain BullMQ no-op jobs (default 20000). */
  noopJobs?: number;
  /** Worker processes per pipeline run (default [1, 2]). */
  workerCounts?: number[];
  /** Jobs each worker runs at once (WORKER_CONCURRENCY; default 50). */
  concurrency?: number;
  /** Extra node flags for the worker processes, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/prof']. */
  workerNodeArgs?: string[];
}

export interface PipelineFigure {
  workers: number;
  applications: number;
  seconds: number;
  /** Applications per second, from the first enqueue to the last SUBMITTED row. */
  perSecond: number;
}

export interface ApplyPipelineBenchResult {
  noop: { jobs: number; addedPerSecond: number; processedPerSecond: number };
  pipeline: PipelineFigure[];
}

/**
 * Applications per second from enqueue to SUBMITTED: real Postgres and Redis, the WeChat
 * simulator over HTTP, `src/jobs/worker-main.ts` as 1 or 2 processes; quotas raised so no limit
 * binds. Authorizer tokens are fetched before the clock starts (they live 2 h; a real backlog
 * mostly finds them cached). Beside it, plain BullMQ no-op jobs on the same Redis, for scale.
 */
export async function runApplyPipelineBench(options: ApplyPipelineBenchOptions = {}): Promise<ApplyPipelineBenchResult> {
  const applications = options.applications ?? 2000;
  const noopJobs = options.noopJobs ?? 20_000;
  const concurrency = options.concurrency ?? 50;
  await globalSetup();
  const env = await createTestEnv();
  const sim = await startSimulator({ port: 0 });
  const children: ChildProcess[] = [];
  try {
    const noop = await benchNoop(env.redis, () => env.newRedis({ maxRetriesPerRequest: null }), env.redisPrefix, noopJobs);

    const db = env.database.db;
    const admin = new SimulatorAdmin(sim.url);
    const store = new PgCredentialStore(db, env.box);
    const wechat = createWechatApi({ baseUrl: sim.url, redis: env.redis, prefix: env.redisPrefix, store, clock: systemClock });
    const publisher = new RedisChangePublisher(env.redis, env.redisPrefix);
    const queue = new ApplyQueue({ redis: env.redis, redisPrefix: env.redisPrefix, clock: systemClock, maxAttempts: 5, backoffMs: 100 });
    const authorizers = new AuthorizersService(db, env.box);
    const service = new ApplicationsService({ db, authorizers, queue, publisher, logger: silentLogger });

    const pipeline: PipelineFigure[] = [];
    for (const workers of options.workerCounts ?? [1, 2]) {
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
      for (const appId of t.appIds)
        sim.state.addAuthorizer({ componentAppId: t.input.componentAppId, appId, refreshToken: `refresh-${appId}`, funcInfo: [52] });
      for (let i = 0; i < t.appIds.length; i += 50) {
        await Promise.all(t.appIds.slice(i, i + 50).map((appId) => wechat.tokens.getAuthorizerToken(t.tenant.id, appId)));
      }
      const started = await Promise.all(
        Array.from({ length: workers }, () =>
          spawnWorkerProcess({
            databaseUrl: env.databaseUrl,
            redisUrl: env.redisUrl,
            redisPrefix: env.redisPrefix,
            secretKey: env.secretKey,
            wechatApiBase: sim.url,
            concurrency,
            ...(options.workerNodeArgs ? { nodeArgs: options.workerNodeArgs } : {}),
          }),
        ),
      );
      children.push(...started);

      const t0 = performance.now();
      for (let i = 0; i < t.appIds.length; i += 1000) await service.applyBatch(t.ctx, t.appIds.slice(i, i + 1000));
      for (;;) {
        const [row] = await db
          .select({ n: count() })
          .from(liveApplications)
          .where(and(eq(liveApplications.tenantId, t.tenant.id), eq(liveApplications.status, 'SUBMITTED')));
        if ((row?.n ?? 0) >= applications) break;
        if (performance.now() - t0 > 40_000) throw new Error(`only ${row?.n} of ${applications} SUBMITTED after 40 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const seconds = (performance.now() - t0) / 1000;
      pipeline.push({ workers, applications, seconds, perSecond: applications / seconds });
      await Promise.all(
        started.map((c) => {
          const exited = once(c, 'exit');
          c.kill('SIGTERM');
          return exited;
        }),
      );
    }
    await queue.close();
    return { noop, pipeline };
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await sim.stop();
    await env.cleanup();
  }
}

async function benchNoop(redis: Redis, workerConnection: () => Redis, redisPrefix: string, jobs: number): Promise<ApplyPipelineBenchResult['noop']> {
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

export function formatBench(r: ApplyPipelineBenchResult): string {
  const rows: [string, string, string, string][] = [
    ['scenario', 'items', 'seconds', 'per second'],
    ['BullMQ no-op: add (bulk)', String(r.noop.jobs), (r.noop.jobs / r.noop.addedPerSecond).toFixed(2), r.noop.addedPerSecond.toFixed(0)],
    ['BullMQ no-op: process (1 worker)', String(r.noop.jobs), (r.noop.jobs / r.noop.processedPerSecond).toFixed(2), r.noop.processedPerSecond.toFixed(0)],
    ...r.pipeline.map((p): [string, string, string, string] => [
      `apply -> SUBMITTED (${p.workers} worker${p.workers > 1 ? 's' : ''})`,
      String(p.applications),
      p.seconds.toFixed(2),
      p.perSecond.toFixed(0),
    ]),
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i]?.length ?? 0)));
  return rows.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')).join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runApplyPipelineBench().then(
    (result) => {
      process.stdout.write(`${formatBench(result)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
