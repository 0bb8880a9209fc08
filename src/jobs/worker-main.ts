import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { type Config, loadConfig } from '../config/config.js';
import { connectPostgres } from '../db/client.js';
import { RedisChangePublisher } from '../events/change-feed.js';
import { systemClock } from '../lib/clock.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { SecretBox } from '../lib/secret-box.js';
import { ApplicationTransitions } from '../services/application-transitions.service.js';
import { PgCredentialStore } from '../services/credential-store.pg.js';
import { createWechatApi } from '../wechat/wechat-api.js';
import { type JobsRuntime, startJobsRuntime } from './jobs-runtime.js';
import { type JobsTuning, loadJobsTuning } from './jobs-tuning.js';

export interface WorkerProcess {
  runtime: JobsRuntime;
  /** Drains running jobs, then closes Redis and Postgres. */
  close(): Promise<void>;
}

/**
 * The worker role as its own process: Postgres, Redis, the WeChat client, the apply worker and the
 * reconciler. Postgres is required: PGlite (the demo's embedded database) is single-process.
 */
export async function startWorkerProcess(config: Config, tuning: Partial<JobsTuning>, logger: Logger): Promise<WorkerProcess> {
  if (!config.databaseUrl) throw new Error('DATABASE_URL: the worker process needs Postgres (PGlite cannot be shared between processes)');
  if (!config.secretKey) throw new Error('SECRET_KEY: the worker needs it to open stored credentials');
  const database = connectPostgres(config.databaseUrl, { max: config.dbPoolSize });
  const redis = new Redis(config.redisUrl);
  const workerConnection = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const clock = systemClock;
  const transitions = new ApplicationTransitions({ db: database.db, publisher: new RedisChangePublisher(redis, config.redisPrefix), clock, logger });
  const wechat = createWechatApi({
    baseUrl: config.wechatApiBase,
    timeoutMs: config.wechatTimeoutMs,
    redis,
    prefix: config.redisPrefix,
    store: new PgCredentialStore(database.db, new SecretBox(config.secretKey)),
    clock,
    logger,
    refreshAheadMs: config.tokenRefreshAheadMs,
  });
  const runtime = startJobsRuntime({
    config,
    db: database.db,
    redis,
    workerConnection,
    transitions,
    applyLive: (tenantId, appId) => wechat.applyLive(tenantId, appId),
    clock,
    logger,
    tuning,
  });
  return {
    runtime,
    async close() {
      await runtime.close();
      await Promise.all([redis.quit(), workerConnection.quit()]);
      await database.close();
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel, name: 'wxlive-worker' });
  const running = await startWorkerProcess(config, loadJobsTuning(process.env), logger);
  logger.info({ pid: process.pid, concurrency: config.workerConcurrency }, 'apply worker started');
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'draining running jobs');
      running.close().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

// Run only as an entry point (`tsx src/jobs/worker-main.ts`); importing it starts nothing.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`worker failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
