import type { Job } from 'bullmq';
import { and, eq } from 'drizzle-orm';
import { liveApplicationEvents, liveApplications } from '../../../src/db/tables.js';
import { RedisChangePublisher } from '../../../src/events/change-feed.js';
import { OutboxRelay } from '../../../src/events/outbox-relay.js';
import { type ApplyWorkerHandle, startApplyWorker } from '../../../src/jobs/apply-live.worker.js';
import { type ApplyJobData, type ApplyJobName, ApplyQueue } from '../../../src/jobs/apply-queue.js';
import { LiveGrantsGate } from '../../../src/jobs/live-grants-gate.js';
import { QuotaLimiter } from '../../../src/jobs/quota-limiter.js';
import { Reconciler } from '../../../src/jobs/reconciler.js';
import { tenantLimitsFromDb } from '../../../src/jobs/tenant-limits.js';
import { type Clock, ManualClock } from '../../../src/lib/clock.js';
import { type Logger, silentLogger } from '../../../src/lib/logger.js';
import { LiveApplicationLifecycle, LiveApplicationQueries } from '../../../src/services/live-application/index.js';
import { AuthorizersService } from '../../../src/services/authorizers.service.js';
import { PgCredentialStore } from '../../../src/services/credential-store.pg.js';
import type { CreateTenantInput } from '../../../src/services/tenants.service.js';
import { SimulatorAdmin } from '../../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../../src/wechat/simulator/server.js';
import { createWechatApi, type WechatApi } from '../../../src/wechat/wechat-api.js';
import { createTenantWithMerchants } from '../../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../../support/test-env.js';

export interface HarnessOptions {
  /** Default: a ManualClock shared by the workers and the simulator. */
  clock?: Clock;
  maxAttempts?: number;
  backoffMs?: number;
  hourlyCapPerApp?: number;
  liveGrantsPauseMs?: number;
  /** The workers' logger (default silent). */
  workerLogger?: Logger;
}

export interface WorkerOptions {
  concurrency?: number;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  stuckAfterMs?: number;
}

/**
 * One test's world: its own database and Redis prefix (createTestEnv), an in-process WeChat
 * simulator on the same clock as the workers, the real services, queue, limiter and workers.
 */
export interface Harness {
  env: TestEnv;
  clock: Clock;
  sim: RunningSimulator;
  admin: SimulatorAdmin;
  wechat: WechatApi;
  queue: ApplyQueue;
  limiter: QuotaLimiter;
  gate: LiveGrantsGate;
  /** The outbox relay the lifecycle publishes through (its sweep is not started; tests call it). */
  relay: OutboxRelay;
  lifecycle: LiveApplicationLifecycle;
  applications: LiveApplicationQueries;
  reconciler: Reconciler;
  store: PgCredentialStore;
  startWorker(options?: WorkerOptions): ApplyWorkerHandle;
  /** A tenant with `n` merchants, known to the simulator, with a component_verify_ticket stored. */
  tenant(n: number, overrides?: Partial<CreateTenantInput>): ReturnType<typeof createTenantWithMerchants>;
  /** applyliveinfo calls the simulator counted for these app ids (all when omitted). */
  calls(appIds?: readonly string[]): Promise<number>;
  statuses(tenantId: string): Promise<Record<string, number>>;
  row(id: string): Promise<typeof liveApplications.$inferSelect | undefined>;
  attemptEvents(id: string): Promise<(typeof liveApplicationEvents.$inferSelect)[]>;
  jobs(state: 'delayed' | 'waiting' | 'prioritized' | 'active' | 'completed' | 'failed', name?: ApplyJobName): Promise<Job<ApplyJobData>[]>;
  close(): Promise<void>;
}

export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const env = await createTestEnv();
  const clock = options.clock ?? new ManualClock(Date.UTC(2026, 0, 15, 4, 0, 0));
  const sim = await startSimulator({ port: 0, clock });
  const admin = new SimulatorAdmin(sim.url);
  // The gateway's side runs as wxlive_app (row-level security); fixtures and inspection as the observer.
  const db = env.appDatabase.db;
  const observer = env.database.db;
  const store = new PgCredentialStore(db, env.box, clock);
  const relay = new OutboxRelay({ db, redis: new RedisChangePublisher(env.redis, env.redisPrefix), clock, logger: silentLogger });
  const wechat = createWechatApi({ baseUrl: sim.url, redis: env.redis, prefix: env.redisPrefix, store, clock, timeoutMs: 10_000 });
  const queue = new ApplyQueue({
    redis: env.redis,
    redisPrefix: env.redisPrefix,
    clock,
    maxAttempts: options.maxAttempts ?? 5,
    backoffMs: options.backoffMs ?? 20,
  });
  const limiter = new QuotaLimiter(env.redis, { prefix: env.redisPrefix, windowCapPerApp: options.hourlyCapPerApp ?? 10 });
  // The probe lock of a job whose worker was killed mid-call expires after 2 s.
  const gate = new LiveGrantsGate(env.redis, {
    prefix: env.redisPrefix,
    probeLockMs: 2_000,
    ...(options.liveGrantsPauseMs === undefined ? {} : { pauseMs: options.liveGrantsPauseMs }),
  });
  const applications = new LiveApplicationQueries({ db, clock });
  const lifecycle = new LiveApplicationLifecycle({
    db,
    authorizers: new AuthorizersService(db, env.box, clock),
    queue,
    publisher: relay,
    clock,
    logger: silentLogger,
  });
  const reconciler = new Reconciler({ db, redis: env.redis, redisPrefix: env.redisPrefix, queue, lifecycle, applications, logger: silentLogger });
  const workers: ApplyWorkerHandle[] = [];

  return {
    env,
    clock,
    sim,
    admin,
    wechat,
    queue,
    limiter,
    gate,
    relay,
    lifecycle,
    applications,
    reconciler,
    store,
    startWorker(w = {}) {
      const handle = startApplyWorker({
        connection: env.newRedis({ maxRetriesPerRequest: null }),
        redisPrefix: env.redisPrefix,
        concurrency: w.concurrency ?? 10,
        backoffMs: options.backoffMs ?? 20,
        lockDurationMs: w.lockDurationMs ?? 5_000,
        stalledIntervalMs: w.stalledIntervalMs ?? 5_000,
        ...(w.stuckAfterMs === undefined ? {} : { stuckAfterMs: w.stuckAfterMs }),
        lifecycle,
        applications,
        limiter,
        gate,
        tenantLimits: tenantLimitsFromDb(db, 0),
        applyLive: (tenantId, appId) => wechat.applyLive(tenantId, appId),
        scheduleExpiry: (job, atMs) => queue.scheduleExpiry(job, atMs),
        clock,
        logger: options.workerLogger ?? silentLogger,
        // A job that finds another's live-grants probe in flight asks again soon (plus jitter).
        probeWaitMs: 100,
      });
      workers.push(handle);
      return handle;
    },
    async tenant(n, overrides = {}) {
      const created = await createTenantWithMerchants(observer, env.box, n, overrides);
      const { input, tenant, appIds } = created;
      const { ticket } = await admin.registerComponent({
        componentAppId: input.componentAppId,
        componentAppSecret: input.componentAppSecret,
        token: input.token,
        encodingAesKey: input.encodingAesKey,
      });
      await store.saveTicket(tenant.id, ticket);
      for (const appId of appIds)
        await admin.addAuthorizer({ componentAppId: input.componentAppId, appId, refreshToken: `refresh-${appId}`, funcInfo: [1, 52] });
      return created;
    },
    async calls(appIds) {
      const byAppId = (await admin.counters()).calls.applyliveinfo?.byAppId ?? {};
      const ids = appIds ?? Object.keys(byAppId);
      return ids.reduce((sum, id) => sum + (byAppId[id] ?? 0), 0);
    },
    async statuses(tenantId) {
      const rows = await observer.select({ status: liveApplications.status }).from(liveApplications).where(eq(liveApplications.tenantId, tenantId));
      const counts: Record<string, number> = {};
      for (const r of rows) counts[r.status] = (counts[r.status] ?? 0) + 1;
      return counts;
    },
    async row(id) {
      const [r] = await observer.select().from(liveApplications).where(eq(liveApplications.id, id));
      return r;
    },
    attemptEvents: (id) =>
      observer
        .select()
        .from(liveApplicationEvents)
        .where(and(eq(liveApplicationEvents.applicationId, id), eq(liveApplicationEvents.type, 'ATTEMPT')))
        .orderBy(liveApplicationEvents.id),
    async jobs(state, name) {
      const list = await queue.queue.getJobs([state], 0, -1);
      return list.filter((j) => name === undefined || j.name === name);
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await relay.stop();
      await queue.close();
      await sim.stop();
      await env.cleanup();
    },
  };
}

/** Moves the shared clock (workers and simulator) and wakes delayed jobs, which re-check their limits. */
export async function moveClock(h: Harness, toMs: number): Promise<void> {
  if (!(h.clock instanceof ManualClock)) throw new Error('moveClock needs the ManualClock');
  h.clock.set(toMs);
  await h.queue.queue.promoteJobs();
}
