import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/config/config.js';
import { connectPostgres, type Database } from '../../src/db/client.js';
import { SecretBox } from '../../src/lib/secret-box.js';
import { adminSql, databaseUrl, templateName } from './pg-admin.js';

export interface TestEnv {
  /** A database of this test file's own, cloned from the migrated template. */
  databaseUrl: string;
  /** The test's observer: the superuser, to which row-level security does not apply (fixtures, inspection). */
  database: Database;
  /** What the gateway uses: connections as wxlive_app, held to row-level security (give services this one). */
  appDatabase: Database;
  /** A Redis key prefix of this test file's own. */
  redisPrefix: string;
  redisUrl: string;
  redis: Redis;
  secretKey: Buffer;
  box: SecretBox;
  /** Configuration pointing at this file's database and prefix, with overrides. */
  config(overrides?: Record<string, string>): Config;
  /** A fresh Redis connection (closed by cleanup). */
  newRedis(options?: { maxRetriesPerRequest?: null }): Redis;
  cleanup(): Promise<void>;
}

export const TEST_APPLICATION_NAME = 'wxlive-test';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Call in beforeAll; call `cleanup()` in afterAll: drops the database and deletes the prefix's keys. */
export async function createTestEnv(): Promise<TestEnv> {
  const name = `wxlive_t_${Date.now()}_${randomBytes(4).toString('hex')}`;
  const admin = adminSql();
  try {
    await admin.unsafe(`create database "${name}" template "${templateName()}"`);
  } finally {
    await admin.end();
  }
  const url = databaseUrl(name);
  // The test's own observer connection (superuser: row-level security does not apply to it), named
  // apart from the gateway's so fault tests can kill the gateway's connections and not their own.
  const database = connectPostgres(url, { max: 5, applicationName: TEST_APPLICATION_NAME });
  const appDatabase = connectPostgres(url, { max: 5, role: 'wxlive_app' });
  const redisPrefix = `test-${randomUUID().slice(0, 8)}`;
  const extra: Redis[] = [];
  const newRedis = (options: { maxRetriesPerRequest?: null } = {}) => {
    const r = new Redis(REDIS_URL, { lazyConnect: false, ...options });
    extra.push(r);
    return r;
  };
  const redis = newRedis();
  const secretKey = randomBytes(32);
  return {
    databaseUrl: url,
    database,
    appDatabase,
    redisPrefix,
    redisUrl: REDIS_URL,
    redis,
    secretKey,
    box: new SecretBox(secretKey),
    newRedis,
    config: (overrides = {}) =>
      loadConfig({
        DATABASE_URL: url,
        REDIS_URL,
        REDIS_PREFIX: redisPrefix,
        SECRET_KEY: secretKey.toString('base64'),
        PORT: '0',
        METRICS_PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        ...overrides,
      }),
    async cleanup() {
      await deleteKeys(redis, redisPrefix);
      await Promise.all(extra.map((r) => r.quit().catch(() => r.disconnect())));
      await appDatabase.close();
      await database.close();
      const a = adminSql();
      try {
        await a.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await a.end();
      }
    },
  };
}

export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  // Keys start with the prefix, or with BullMQ's "<prefix>..." queue keys.
  for (const pattern of [`${prefix}*`, `*{${prefix}*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  }
}

/** Polls until `check` stops throwing (or returns true), instead of sleeping a fixed time. */
export async function expectEventually<T>(check: () => T | Promise<T>, { timeoutMs = 10_000, intervalMs = 25 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== false) return value;
      lastError = new Error('condition stayed false');
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw lastError;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
