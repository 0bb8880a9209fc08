import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bullPrefix, tenantQuotaKeys } from '../../src/jobs/quota-keys.js';
import { QuotaLimiter, type TenantLimits } from '../../src/jobs/quota-limiter.js';
import { ManualClock } from '../../src/lib/clock.js';
import { nextQuotaDayStart } from '../../src/lib/quota-day.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env.cleanup());

const NOON_CST = Date.UTC(2026, 0, 15, 4, 0, 0);

function tenant(overrides: Partial<TenantLimits> = {}): TenantLimits {
  return { id: randomUUID(), dailyQuotaPerApp: 100, dailyQuotaPerTenant: null, callsPerSecond: 1000, ...overrides };
}

function limiter(options: { windowCap?: number; rateClock?: ManualClock } = {}): QuotaLimiter {
  return new QuotaLimiter(env.newRedis(), {
    prefix: env.redisPrefix,
    windowCapPerApp: options.windowCap ?? 1000,
    ...(options.rateClock ? { rateClock: options.rateClock } : {}),
  });
}

/** The hash tag Redis Cluster hashes: the first {...} with something inside. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
}

describe('QuotaLimiter', () => {
  it('never grants more than the tenant quota, however many workers race for it', async () => {
    const t = tenant({ dailyQuotaPerTenant: 50 });
    const limiters = [limiter(), limiter(), limiter()];
    const results = await Promise.all(
      Array.from({ length: 240 }, (_, i) => (limiters[i % 3] as QuotaLimiter).reserve(t, `wx${String(i % 80).padStart(16, '0')}`, NOON_CST)),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(50);
    const refused = results.filter((r) => !r.ok);
    expect(new Set(refused.map((r) => (r.ok ? '' : r.limit)))).toEqual(new Set(['TENANT_DAILY']));
    expect(refused.every((r) => !r.ok && r.reopensAt === nextQuotaDayStart(NOON_CST))).toBe(true);
  });

  it('limits each appid per quota day and reopens at 00:00 UTC+8', async () => {
    const l = limiter();
    const t = tenant({ dailyQuotaPerApp: 3 });
    for (let i = 0; i < 3; i++) expect((await l.reserve(t, 'wxaaaaaaaaaaaaaaaa', NOON_CST)).ok).toBe(true);
    const refused = await l.reserve(t, 'wxaaaaaaaaaaaaaaaa', NOON_CST);
    expect(refused).toEqual({ ok: false, limit: 'APP_DAILY', reopensAt: Date.UTC(2026, 0, 15, 16, 0, 0), retryAfterMs: 12 * 3600_000 });
    // Another appid of the same tenant is not affected.
    expect((await l.reserve(t, 'wxbbbbbbbbbbbbbbbb', NOON_CST)).ok).toBe(true);
    // 00:00 UTC+8 is 16:00 UTC: a new quota day.
    expect((await l.reserve(t, 'wxaaaaaaaaaaaaaaaa', Date.UTC(2026, 0, 15, 16, 0, 0))).ok).toBe(true);
    expect(await l.getQuota(t, 'wxaaaaaaaaaaaaaaaa', NOON_CST)).toEqual({
      dailyLimit: 3,
      used: 3,
      remaining: 0,
      resetsAt: '2026-01-15T16:00:00.000Z',
      tenantDailyLimit: null,
      tenantUsed: 4,
    });
  });

  it('caps an appid in the short window so retries cannot spend a day in minutes', async () => {
    const l = limiter({ windowCap: 2 });
    const t = tenant();
    expect((await l.reserve(t, 'wxcccccccccccccccc', NOON_CST)).ok).toBe(true);
    expect((await l.reserve(t, 'wxcccccccccccccccc', NOON_CST + 60_000)).ok).toBe(true);
    expect(await l.reserve(t, 'wxcccccccccccccccc', NOON_CST + 120_000)).toMatchObject({
      ok: false,
      limit: 'APP_WINDOW',
      reopensAt: NOON_CST + 3600_000,
      retryAfterMs: 3600_000 - 120_000,
    });
    expect((await l.reserve(t, 'wxcccccccccccccccc', NOON_CST + 3600_000)).ok).toBe(true);
  });

  it('keeps a tenant under its calls per second on the wall clock', async () => {
    const wall = new ManualClock(1_000_000);
    const l = limiter({ rateClock: wall });
    const t = tenant({ callsPerSecond: 2 });
    expect((await l.reserve(t, 'wx1111111111111111', NOON_CST)).ok).toBe(true);
    wall.advance(300);
    expect((await l.reserve(t, 'wx2222222222222222', NOON_CST)).ok).toBe(true);
    expect(await l.reserve(t, 'wx3333333333333333', NOON_CST)).toMatchObject({ ok: false, limit: 'TENANT_RATE', reopensAt: 1_001_000, retryAfterMs: 700 });
    wall.advance(700);
    expect((await l.reserve(t, 'wx3333333333333333', NOON_CST)).ok).toBe(true);
  });

  it('marks an appid spent on 45009 until the next quota day', async () => {
    const l = limiter();
    const t = tenant();
    await l.markSpent(t.id, 'wxdddddddddddddddd', NOON_CST);
    expect(await l.reserve(t, 'wxdddddddddddddddd', NOON_CST)).toMatchObject({ ok: false, limit: 'APP_SPENT' });
    expect(await l.getQuota(t, 'wxdddddddddddddddd', NOON_CST)).toMatchObject({ used: 0, remaining: 0 });
    expect((await l.reserve(t, 'wxdddddddddddddddd', nextQuotaDayStart(NOON_CST))).ok).toBe(true);
  });

  it('gives a reservation back once when the call was never sent', async () => {
    const l = limiter({ windowCap: 1 });
    const t = tenant({ dailyQuotaPerTenant: 1 });
    const r = await l.reserve(t, 'wxeeeeeeeeeeeeeeee', NOON_CST);
    if (!r.ok) throw new Error('expected a reservation');
    await l.release(r.reservation);
    await l.release(r.reservation);
    expect(await l.getQuota(t, 'wxeeeeeeeeeeeeeeee', NOON_CST)).toMatchObject({ used: 0, tenantUsed: 0, remaining: 1 });
    expect((await l.reserve(t, 'wxeeeeeeeeeeeeeeee', NOON_CST)).ok).toBe(true);
  });

  it('keeps counters alive under a test clock far from Redis time (relative TTLs)', async () => {
    const l = limiter();
    const t = tenant();
    const longAgo = Date.UTC(2020, 5, 1, 4, 0, 0);
    expect((await l.reserve(t, 'wxffffffffffffffff', longAgo)).ok).toBe(true);
    expect(await l.getQuota(t, 'wxffffffffffffffff', longAgo)).toMatchObject({ used: 1 });
  });

  it('puts every key of one reservation on one Cluster slot, and the queue keys on one', () => {
    const k = tenantQuotaKeys('wxlive', 'tenant-1');
    const keys = [k.appDay('wx1', '20260115'), k.tenantDay('20260115'), k.appSpent('wx1', '20260115'), k.appWindow('wx1'), k.tenantRate];
    expect(new Set(keys.map(hashTag))).toEqual(new Set(['t:tenant-1']));
    expect(hashTag(`${bullPrefix('wxlive')}:live-apply:wait`)).toBe('wxlive');
    expect(hashTag(`${bullPrefix('wxlive')}:live-apply:0b7c`)).toBe('wxlive');
  });
});
