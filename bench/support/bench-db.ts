import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { connectPostgres, type Database } from '../../src/db/client.js';
import { SecretBox } from '../../src/lib/secret-box.js';
import { type CreateTenantInput, TenantsService } from '../../src/services/tenants.service.js';
import { systemClock } from '../../src/lib/clock.js';

export const BENCH_POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const BENCH_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface BenchTenant {
  id: string;
  /** A write-scoped API key. */
  apiKey: string;
  input: CreateTenantInput;
}

export interface BenchDatabase {
  name: string;
  url: string;
  database: Database;
  secretKey: Buffer;
  box: SecretBox;
  /** Drops the database (with force: servers still connected are cut off). */
  drop(): Promise<void>;
}

/** A scratch database `wxlive_bench_<random>` with every migration applied; dropped by `drop()`. */
export async function createBenchDatabase(poolSize = 10): Promise<BenchDatabase> {
  const name = `wxlive_bench_${Date.now()}_${randomBytes(3).toString('hex')}`;
  const admin = postgres(BENCH_POSTGRES_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const url = new URL(BENCH_POSTGRES_URL);
  url.pathname = `/${name}`;
  const database = connectPostgres(url.toString(), { max: poolSize });
  await database.migrate();
  const secretKey = randomBytes(32);
  let dropped: Promise<void> | undefined;
  return {
    name,
    url: url.toString(),
    database,
    secretKey,
    box: new SecretBox(secretKey),
    drop() {
      dropped ??= (async () => {
        await database.close();
        await admin.unsafe(`drop database if exists "${name}" with (force)`);
        await admin.end();
      })();
      return dropped;
    },
  };
}

export function benchTenantInput(n: number): CreateTenantInput {
  return {
    name: `bench tenant ${n}`,
    componentAppId: `wx${randomBytes(8).toString('hex')}`,
    componentAppSecret: `secret-${randomBytes(8).toString('hex')}`,
    token: `token${randomBytes(6).toString('hex')}`,
    encodingAesKey: randomBytes(32).toString('base64').slice(0, 43),
  };
}

export async function createBenchTenant(db: BenchDatabase, n: number, overrides: Partial<CreateTenantInput> = {}): Promise<BenchTenant> {
  const input = { ...benchTenantInput(n), ...overrides };
  const { tenant, apiKey } = await new TenantsService(db.database.db, db.box, systemClock).create(input);
  return { id: tenant.id, apiKey: apiKey.key, input };
}

/**
 * `applications` live applications spread evenly over `tenants` tenants, each with three history
 * events (CREATED, ATTEMPT, STATUS), in a handful of set-based statements.
 */
export async function seedApplications(db: BenchDatabase, tenants: BenchTenant[], applications: number): Promise<void> {
  const sql = db.database.sql;
  if (!sql) throw new Error('the bench needs postgres-js');
  const ids = tenants.map((t) => t.id);
  // Row i goes to tenant i mod n; created one second apart, newest last; statuses vary.
  await sql`
    insert into live_applications (tenant_id, app_id, status, errcode, errmsg, error_code, attempts, created_at, submitted_at, opened_at, expires_at, updated_at)
    select (${ids}::uuid[])[1 + i % ${ids.length}],
           'wx' || lpad(to_hex(i), 16, '0'),
           (array['SUBMITTED', 'OPENED', 'REJECTED', 'EXPIRED'])[1 + i % 4],
           case when i % 4 = 2 then 2 else 0 end,
           case when i % 4 = 2 then 'not paid in the last 90 days' else 'ok' end,
           case when i % 4 = 2 then 'NOT_PAID_90_DAYS' end,
           1,
           now() - make_interval(secs => ${applications} - i),
           now() - make_interval(secs => ${applications} - i - 1),
           case when i % 4 = 1 then now() - make_interval(secs => ${applications} - i - 2) end,
           now() - make_interval(secs => ${applications} - i - 1) + interval '24 hours',
           now() - make_interval(secs => ${applications} - i - 2)
    from generate_series(0, ${applications - 1}) as i`;
  await sql`
    insert into live_application_events (application_id, tenant_id, type, status, errcode, errmsg, latency_ms, attempt, message, created_at)
    select a.id, a.tenant_id, e.type, e.status, e.errcode, e.errmsg, e.latency, e.attempt, e.message, a.created_at + e.offset_ms * interval '1 millisecond'
    from live_applications a
    cross join (values
      ('CREATED', 'QUEUED', null::int, null::text, null::int, null::int, 'Accepted by the API.', 0),
      ('ATTEMPT', 'SUBMITTED', 0, 'ok', 84, 1, 'WeChat accepted the application; waiting for the merchant admin (24 h).', 500),
      ('STATUS', 'OPENED', null, null, null, null, 'WeChat reported live broadcasting opened.', 900)
    ) as e(type, status, errcode, errmsg, latency, attempt, message, offset_ms)`;
  await sql`analyze`;
}

/** Deletes every key of a bench's Redis prefix: its own keys and BullMQ's `{prefix}...` queue keys. */
export async function deleteRedisPrefix(prefix: string, redisUrl = BENCH_REDIS_URL): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    for (const pattern of [`${prefix}*`, `*{${prefix}*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}
