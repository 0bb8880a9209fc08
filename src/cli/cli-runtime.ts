import { pino } from 'pino';
import { createLiveServices, createServices, type LiveServices, type Services } from '../app/services.js';
import { type Config, ConfigError, loadConfig } from '../config/config.js';
import { connectPostgres } from '../db/client.js';
import { RedisChangePublisher } from '../events/change-feed.js';
import { OutboxRelay } from '../events/outbox-relay.js';
import { createApplyClients } from '../jobs/jobs-runtime.js';
import { systemClock } from '../lib/clock.js';
import { createLogger } from '../lib/logger.js';
import { createRedis, type RedisClient } from '../lib/redis.js';
import { SecretBox } from '../lib/secret-box.js';
import { DomainError } from '../services/errors.js';
import { createWechatApi } from '../wechat/wechat-api.js';
import type { ApplicationQueue, ChangePublisher } from '../services/ports.js';
import type { TenantSummary } from '../services/tenants.service.js';
import { CliError } from './cli-errors.js';

/** What a command works with: the domain services over the configured Postgres (and Redis for `apply`). */
export interface CliRuntime {
  config: Config;
  services: Services;
  /** Live management (rooms, goods), reaching WeChat at WECHAT_API_BASE; opened with { redis: true } only. */
  live: LiveServices | undefined;
  /** The tenant, or DomainError TENANT_NOT_FOUND: foreign keys would otherwise fail less readably. */
  tenant(id: string): Promise<TenantSummary>;
  close(): Promise<void>;
}

/** Commands that never enqueue or publish get ports that say so loudly if that ever changes. */
const offline = (what: string) => () => Promise.reject(new Error(`${what} needs Redis; open the CLI runtime with { redis: true }`));
const offlineQueue: ApplicationQueue = { enqueue: offline('enqueue'), remove: offline('remove'), scheduleExpiry: offline('scheduleExpiry') };
const offlinePublisher: ChangePublisher = { publish: offline('publish') };

export async function openCliRuntime(env: Record<string, string | undefined>, options: { redis: boolean }): Promise<CliRuntime> {
  const config = loadConfig(env);
  if (!config.databaseUrl) {
    // The demo's embedded PGlite allows one process at a time; opening it beside a running demo corrupts it.
    throw new ConfigError('DATABASE_URL: required by the CLI (a postgres:// URL; the embedded demo database is not shared)');
  }
  if (!config.secretKeys) {
    throw new ConfigError("SECRET_KEY: required by the CLI (or SECRET_KEYS); use the gateway's (32 random bytes in base64: openssl rand -base64 32)");
  }
  // Info lines from the services are noise on a terminal; warnings and errors go to stderr as JSON.
  const level = config.logLevel === 'info' ? 'warn' : config.logLevel;
  const logger = createLogger({ level, name: 'wxlive-cli' }, pino.destination({ dest: 2, sync: true }));
  const database = connectPostgres(config.databaseUrl, { max: 2, role: config.databaseAppRole });
  const closers: (() => Promise<unknown>)[] = [() => database.close()];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    let queue = offlineQueue;
    let publisher = offlinePublisher;
    let redis: RedisClient | undefined;
    if (options.redis) {
      const connected = await connectRedis(config);
      redis = connected;
      closers.push(() => connected.quit());
      const clients = createApplyClients({ config, redis: connected, clock: systemClock });
      closers.push(() => clients.queue.close());
      queue = clients.queue;
      const relay = new OutboxRelay({ db: database.db, redis: new RedisChangePublisher(connected, config.redisPrefix), clock: systemClock, logger });
      // Deletes the rows it published before Redis and Postgres close (closers run in reverse).
      closers.push(() => relay.stop());
      publisher = relay;
    }
    const services = createServices({
      db: database.db,
      box: new SecretBox(config.secretKeys),
      clock: systemClock,
      logger,
      queue,
      publisher,
      urlPolicy: config.outboundWebhooks,
    });
    const live = redis
      ? createLiveServices({
          db: database.db,
          redis,
          redisPrefix: config.redisPrefix,
          clock: systemClock,
          logger,
          wechat: liveWechat(
            createWechatApi({
              baseUrl: config.wechatApiBase,
              timeoutMs: config.wechatTimeoutMs,
              redis,
              prefix: config.redisPrefix,
              store: services.credentials,
              logger,
            }),
          ),
        })
      : undefined;
    return {
      config,
      services,
      live,
      async tenant(id) {
        const tenant = await services.tenants.get(id);
        if (!tenant) throw new DomainError('TENANT_NOT_FOUND', `Tenant ${id} does not exist.`);
        return tenant;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Fails fast with one line when Redis is down, instead of ioredis retrying forever. */
async function connectRedis(config: Config): Promise<RedisClient> {
  const redis = createRedis(config, { purpose: 'commands', failFast: true });
  // Connection errors surface through connect() and commands; without a listener ioredis prints them too.
  redis.on('error', () => {});
  try {
    await redis.connect();
    return redis;
  } catch (err) {
    redis.disconnect();
    const variable = config.redisClusterNodes ? 'REDIS_CLUSTER_NODES' : 'REDIS_URL';
    throw new CliError('REDIS_UNAVAILABLE', `${variable}: cannot reach Redis (${err instanceof Error ? err.message : String(err)})`);
  }
}

function liveWechat(api: ReturnType<typeof createWechatApi>) {
  return { run: api.runLive.bind(api) } as const;
}
