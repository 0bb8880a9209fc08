import { z } from 'zod';
import { KEY_ID, LEGACY_KEY_ID, type SecretKey } from '../lib/secret-box.js';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/** `host:port,host:port`: seed nodes of a Redis Cluster (ioredis discovers the rest). */
const clusterNodes = z.string().transform((value, ctx) => {
  const nodes: RedisNode[] = [];
  for (const part of value.split(',').map((p) => p.trim())) {
    const match = /^\[?([^\s[\]]+?)\]?:([0-9]{1,5})$/.exec(part);
    const port = Number(match?.[2]);
    if (!match?.[1] || port < 1 || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `expected comma-separated host:port pairs (e.g. 10.0.0.1:7000,10.0.0.2:7000); got "${part}"` });
      return z.NEVER;
    }
    nodes.push({ host: match[1], port });
  }
  return nodes;
});

const secretKey = z.string().refine((v) => Buffer.from(v, 'base64').length === 32, {
  message: 'expected 32 random bytes in base64 (generate one with: openssl rand -base64 32)',
});

/** `k2:<base64>,k1:<base64>`: the first key seals, every one opens. Messages never echo key material. */
const secretKeys = z.string().transform((value, ctx) => {
  const keys: SecretKey[] = [];
  const fail = (message: string) => {
    ctx.addIssue({
      code: 'custom',
      message: `${message}; expected id:<32 random bytes in base64>, comma-separated, the sealing key first (e.g. k2:<new key>,k1:<previous key>)`,
    });
    return z.NEVER;
  };
  const parts = value.split(',').map((p) => p.trim());
  for (const [i, part] of parts.entries()) {
    const colon = part.indexOf(':');
    const id = colon < 0 ? '' : part.slice(0, colon);
    if (!KEY_ID.test(id)) return fail(`entry ${i + 1} has no key id (letters, digits, - or _, then a colon)`);
    const key = Buffer.from(part.slice(colon + 1), 'base64');
    if (key.length !== 32) return fail(`key ${id} is not 32 bytes`);
    if (keys.some((k) => k.id === id)) return fail(`key id ${id} appears twice`);
    keys.push({ id, key });
  }
  return keys;
});

/** Every environment variable the service reads, with its default. `.env.example` mirrors this. */
export const envSchema = z.object({
  DATABASE_URL: z.string().url({ message: 'expected a postgres:// URL' }).optional(),
  DATA_DIR: z.string().default('.wxlive-data'),
  REDIS_URL: z.string().url({ message: 'expected a redis:// URL' }).default('redis://127.0.0.1:6379'),
  REDIS_CLUSTER_NODES: clusterNodes.optional(),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, - or _')
    .default('wxlive'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default('0.0.0.0'),
  // ROLE=worker serves no API: health and metrics get a port of their own (9464: the usual Prometheus exporter port).
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  // Set: spans are exported over OTLP/HTTP to <endpoint>/v1/traces; unset: no tracing SDK at all.
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url({ message: 'expected an http(s) URL, e.g. http://otel-collector:4318' }).optional(),
  WECHAT_API_BASE: z.string().url({ message: 'expected an http(s) URL' }).default('https://api.weixin.qq.com'),
  WECHAT_TIMEOUT_MS: z.coerce.number().int().positive().default(5000),
  TOKEN_REFRESH_AHEAD_SECONDS: z.coerce.number().int().min(0).default(300),
  SECRET_KEY: secretKey.optional(),
  SECRET_KEYS: secretKeys.optional(),
  ROLE: z.enum(['api', 'worker', 'all']).default('all'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  WEBHOOK_REPLAY_WINDOW_SECONDS: z.coerce.number().int().min(0).default(300),
  WEBHOOK_ACCEPT_PLAINTEXT: bool.default(false),
  // Outbound webhook endpoints: https to public addresses only, unless these say otherwise (local development, tests).
  WEBHOOK_ALLOW_HTTP: bool.default(false),
  WEBHOOK_ALLOW_PRIVATE_ADDRESSES: bool.default(false),
  WEBHOOK_DELIVERY_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(50),
  WEBHOOK_DIRECT_DELIVERY: bool.default(true),
  WEBHOOK_DELIVERY_TIMEOUT_MS: z.coerce.number().int().min(1000).max(60_000).default(15_000),
  CREDENTIAL_OVERLAP_MINUTES: z.coerce.number().int().min(0).max(10_080).default(60),
  APPLY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(10),
  APPLY_BACKOFF_MS: z.coerce.number().int().min(0).default(2000),
  APPLY_HOURLY_CAP_PER_APP: z.coerce.number().int().min(1).default(10),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(20),
  LIVE_GRANTS_PAUSE_MINUTES: z.coerce.number().int().min(1).max(10_080).default(60),
  LIVE_SYNC_CONCURRENCY: z.coerce.number().int().min(0).max(100).default(4),
  GRAPHQL_INTROSPECTION: bool.default(true),
  /** Browser origins allowed to call /graphql (comma-separated exact origins, or *); empty: none. */
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((o) => o.trim())
        .filter((o) => o !== ''),
    )
    .refine(
      (list) => list.every((o) => o === '*' || /^https?:\/\/[^/\s]+$/.test(o)),
      'expected * or origins such as https://console.example.com, comma-separated',
    ),
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(1).default(8),
  GRAPHQL_MAX_COST: z.coerce.number().int().min(1).default(20000),
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(1).default(30),
  // GraphQL requests per API key: a token bucket refilled at this rate, this deep; tenants may have their own (wxlive tenant update).
  RATE_LIMIT_PER_SECOND: z.coerce.number().int().min(1).max(100_000).default(50),
  RATE_LIMIT_BURST: z.coerce.number().int().min(1).max(1_000_000).default(100),
  // Valid API keys are remembered this long per process; revocations reach every instance at once over Redis pub/sub, the TTL bounds a lost message.
  API_KEY_CACHE_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
  ADMIN_TOKEN: z.string().min(16, 'expected at least 16 characters').optional(),
  DB_POOL_SIZE: z.coerce.number().int().min(1).default(10),
  // The role every connection switches to, which row-level security applies to; empty: the URL's user.
  DATABASE_APP_ROLE: z
    .string()
    .regex(/^([a-z_][a-z0-9_]{0,62})?$/, 'expected a Postgres role name (lowercase letters, digits, _) or empty')
    .default('wxlive_app'),
  // Worker timings that only tests and operators tuning crash recovery change.
  JOBS_LOCK_DURATION_MS: z.coerce.number().int().min(500).default(30_000),
  JOBS_STALLED_INTERVAL_MS: z.coerce.number().int().min(200).default(30_000),
  JOBS_RECONCILE_INTERVAL_MS: z.coerce.number().int().min(1_000).default(60_000),
  JOBS_TICKET_WAIT_MS: z.coerce.number().int().min(1_000).default(600_000),
  JOBS_RETENTION_INTERVAL_MS: z.coerce.number().int().min(1_000).default(600_000),
  // Whole days, at least one: far longer than WeChat's redelivery and the replay window, so de-duplication never needs a deleted row.
  INBOX_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(7),
  WEBHOOK_DELIVERY_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(7),
  // The liveRoomUpdated feed and its webhooks: a subscriber resuming from an older cursor gets what is kept.
  LIVE_EVENT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(7),
});

export type Env = z.infer<typeof envSchema>;

export interface RedisNode {
  host: string;
  port: number;
}

export interface Config {
  databaseUrl: string | undefined;
  dataDir: string;
  redisUrl: string;
  /** Set: connect to this Redis Cluster (REDIS_URL is then unused). */
  redisClusterNodes: RedisNode[] | undefined;
  redisPrefix: string;
  port: number;
  host: string;
  /** ROLE=worker: the port of its /healthz, /readyz and /metrics (the API roles serve them on `port`). */
  metricsPort: number;
  /** OpenTelemetry traces go here (OTLP/HTTP) when set; the process entry points start the SDK. */
  otelEndpoint: string | undefined;
  wechatApiBase: string;
  wechatTimeoutMs: number;
  tokenRefreshAheadMs: number;
  /** SECRET_KEYS, or SECRET_KEY as the one key `k0`; the first seals. undefined only when the demo makes one. */
  secretKeys: SecretKey[] | undefined;
  role: 'api' | 'worker' | 'all';
  logLevel: Env['LOG_LEVEL'];
  webhookReplayWindowMs: number;
  /** Accept unencrypted pushes verified by `signature` alone (it does not cover the body). */
  webhookAcceptPlaintext: boolean;
  /** Outbound endpoints: which URLs may be registered and connected to. */
  outboundWebhooks: {
    allowHttp: boolean;
    allowPrivateAddresses: boolean;
    concurrency: number;
    /** Where a worker runs (ROLE=worker or all): send the deliveries made in this process (events, relayed pushes) from it, not through a queue poll (src/jobs/webhook-direct.ts). */
    direct: boolean;
    /** Each attempt's limit; a claimed attempt is held for twice this before another worker may send it again. */
    timeoutMs: number;
  };
  /** After a tenant's token or EncodingAESKey changes, pushes under the previous ones are accepted this long. */
  credentialOverlapMs: number;
  applyMaxAttempts: number;
  applyBackoffMs: number;
  applyHourlyCapPerApp: number;
  workerConcurrency: number;
  /** Merchants one worker's live sync loop reads at once; 0: no sync loop in this process. */
  liveSyncConcurrency: number;
  /** After WeChat's 268489001 (no new live grants), applyliveinfo is not called for this long, then probed once. */
  liveGrantsPauseMs: number;
  graphql: { introspection: boolean; maxDepth: number; maxCost: number; maxAliases: number };
  /** Origins allowed to call /graphql from a browser (CORS); empty: none. */
  corsOrigins: string[];
  adminToken: string | undefined;
  /** 0: no cache. */
  apiKeyCacheTtlMs: number;
  /** Per API key, for tenants without their own setting. */
  rateLimit: { perSecond: number; burst: number };
  dbPoolSize: number;
  /** undefined: connect as the URL's user. */
  databaseAppRole: string | undefined;
  jobs: { lockDurationMs: number; stalledIntervalMs: number; reconcileIntervalMs: number; ticketWaitMs: number; retentionIntervalMs: number };
  /** Processed pushes and finished deliveries are deleted this long after they arrived / were made. */
  retention: { inboxMs: number; deliveryMs: number; liveEventMs: number };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses the environment once; the first problem is reported as one line naming the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = issue?.path.join('.') ?? 'environment';
    throw new ConfigError(`${name}: ${issue?.message ?? 'invalid'}`);
  }
  const e = parsed.data;
  if (e.SECRET_KEY && e.SECRET_KEYS) {
    throw new ConfigError(`SECRET_KEYS: set it or SECRET_KEY, not both (SECRET_KEY=<key> is SECRET_KEYS=${LEGACY_KEY_ID}:<key>)`);
  }
  // The replay window bounds redeliveries: a push replayed after retention deleted its row would be stored again.
  if (e.WEBHOOK_REPLAY_WINDOW_SECONDS >= e.INBOX_RETENTION_DAYS * 86_400) {
    throw new ConfigError(
      'WEBHOOK_REPLAY_WINDOW_SECONDS: must be shorter than INBOX_RETENTION_DAYS, or pushes replayed after their row was deleted would be stored again',
    );
  }
  return {
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    redisUrl: e.REDIS_URL,
    redisClusterNodes: e.REDIS_CLUSTER_NODES,
    redisPrefix: e.REDIS_PREFIX,
    port: e.PORT,
    host: e.HOST,
    metricsPort: e.METRICS_PORT,
    otelEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
    wechatApiBase: e.WECHAT_API_BASE.replace(/\/+$/, ''),
    wechatTimeoutMs: e.WECHAT_TIMEOUT_MS,
    tokenRefreshAheadMs: e.TOKEN_REFRESH_AHEAD_SECONDS * 1000,
    secretKeys: e.SECRET_KEYS ?? (e.SECRET_KEY ? [{ id: LEGACY_KEY_ID, key: Buffer.from(e.SECRET_KEY, 'base64') }] : undefined),
    role: e.ROLE,
    logLevel: e.LOG_LEVEL,
    webhookReplayWindowMs: e.WEBHOOK_REPLAY_WINDOW_SECONDS * 1000,
    webhookAcceptPlaintext: e.WEBHOOK_ACCEPT_PLAINTEXT,
    outboundWebhooks: {
      allowHttp: e.WEBHOOK_ALLOW_HTTP,
      allowPrivateAddresses: e.WEBHOOK_ALLOW_PRIVATE_ADDRESSES,
      concurrency: e.WEBHOOK_DELIVERY_CONCURRENCY,
      direct: e.WEBHOOK_DIRECT_DELIVERY,
      timeoutMs: e.WEBHOOK_DELIVERY_TIMEOUT_MS,
    },
    credentialOverlapMs: e.CREDENTIAL_OVERLAP_MINUTES * 60_000,
    applyMaxAttempts: e.APPLY_MAX_ATTEMPTS,
    applyBackoffMs: e.APPLY_BACKOFF_MS,
    applyHourlyCapPerApp: e.APPLY_HOURLY_CAP_PER_APP,
    workerConcurrency: e.WORKER_CONCURRENCY,
    liveSyncConcurrency: e.LIVE_SYNC_CONCURRENCY,
    liveGrantsPauseMs: e.LIVE_GRANTS_PAUSE_MINUTES * 60_000,
    graphql: {
      introspection: e.GRAPHQL_INTROSPECTION,
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxCost: e.GRAPHQL_MAX_COST,
      maxAliases: e.GRAPHQL_MAX_ALIASES,
    },
    corsOrigins: e.CORS_ORIGINS,
    adminToken: e.ADMIN_TOKEN,
    apiKeyCacheTtlMs: e.API_KEY_CACHE_SECONDS * 1000,
    rateLimit: { perSecond: e.RATE_LIMIT_PER_SECOND, burst: e.RATE_LIMIT_BURST },
    dbPoolSize: e.DB_POOL_SIZE,
    databaseAppRole: e.DATABASE_APP_ROLE === '' ? undefined : e.DATABASE_APP_ROLE,
    jobs: {
      lockDurationMs: e.JOBS_LOCK_DURATION_MS,
      stalledIntervalMs: e.JOBS_STALLED_INTERVAL_MS,
      reconcileIntervalMs: e.JOBS_RECONCILE_INTERVAL_MS,
      ticketWaitMs: e.JOBS_TICKET_WAIT_MS,
      retentionIntervalMs: e.JOBS_RETENTION_INTERVAL_MS,
    },
    retention: {
      inboxMs: e.INBOX_RETENTION_DAYS * 86_400_000,
      deliveryMs: e.WEBHOOK_DELIVERY_RETENTION_DAYS * 86_400_000,
      liveEventMs: e.LIVE_EVENT_RETENTION_DAYS * 86_400_000,
    },
  };
}
