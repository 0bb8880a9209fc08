import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiRateLimiter } from '../../src/graphql/api-rate-limiter.js';
import { ManualClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.cleanup();
});

const TENANT = '00000000-0000-4000-8000-000000000001';

function limiter(clock: ManualClock) {
  return new ApiRateLimiter(env.redis, { prefix: env.redisPrefix, defaults: { perSecond: 50, burst: 100 }, clock, logger: silentLogger });
}

describe('the per-key token bucket', () => {
  it('lets a burst through, then refills at the rate, answering how long to wait', async () => {
    const clock = new ManualClock(Date.now());
    const l = limiter(clock);
    const setting = { perSecond: 2, burst: 3 };
    for (let i = 0; i < 3; i++) expect(await l.take(TENANT, 'k1', setting)).toEqual({ ok: true });
    expect(await l.take(TENANT, 'k1', setting)).toEqual({ ok: false, retryAfterSeconds: 1 });
    clock.advance(499);
    expect((await l.take(TENANT, 'k1', setting)).ok).toBe(false);
    clock.advance(1);
    expect(await l.take(TENANT, 'k1', setting)).toEqual({ ok: true });
    expect((await l.take(TENANT, 'k1', setting)).ok).toBe(false);
    // Another key of the same tenant has a bucket of its own.
    expect(await l.take(TENANT, 'k2', setting)).toEqual({ ok: true });
    // A long pause fills the bucket up to the burst, never beyond.
    clock.advance(60_000);
    const verdicts = [];
    for (let i = 0; i < 5; i++) verdicts.push((await l.take(TENANT, 'k1', setting)).ok);
    expect(verdicts).toEqual([true, true, true, false, false]);
  });

  it('refuses a key again without asking Redis until a token can be there, and asks it from then on', async () => {
    const clock = new ManualClock(Date.now());
    const l = limiter(clock);
    const setting = { perSecond: 4, burst: 1 };
    expect((await l.take(TENANT, 'flood', setting)).ok).toBe(true);
    expect((await l.take(TENANT, 'flood', setting)).ok).toBe(false);
    // Were Redis asked now it would let the next one through (no bucket is a full one): it is not.
    await env.redis.del(l.bucket(TENANT, 'flood'));
    clock.advance(249);
    expect(await l.take(TENANT, 'flood', setting)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(await env.redis.exists(l.bucket(TENANT, 'flood'))).toBe(0);
    // From the moment a token can be there, Redis decides again.
    clock.advance(1);
    expect(await l.take(TENANT, 'flood', setting)).toEqual({ ok: true });
    expect(await env.redis.exists(l.bucket(TENANT, 'flood'))).toBe(1);
  });

  it('answers Retry-After in whole seconds, at least 1, from the refill rate', async () => {
    const clock = new ManualClock(Date.now());
    const l = limiter(clock);
    const slow = { perSecond: 1, burst: 1 };
    expect((await l.take(TENANT, 'slow', slow)).ok).toBe(true);
    expect(await l.take(TENANT, 'slow', slow)).toEqual({ ok: false, retryAfterSeconds: 1 });
    // The configured defaults apply when the tenant has none (null).
    for (let i = 0; i < 100; i++) expect((await l.take(TENANT, 'defaults', { perSecond: null, burst: null })).ok).toBe(true);
    expect((await l.take(TENANT, 'defaults', { perSecond: null, burst: null })).ok).toBe(false);
  });

  it("keeps each bucket on its tenant's Cluster slot and lets it expire once it would be full again", async () => {
    const clock = new ManualClock(Date.now());
    const l = limiter(clock);
    await l.take(TENANT, 'ttl', { perSecond: 10, burst: 20 });
    const bucket = l.bucket(TENANT, 'ttl');
    expect(bucket).toContain(`{t:${TENANT}}`);
    const ttl = await env.redis.pttl(bucket);
    expect(ttl).toBeGreaterThan(2000);
    expect(ttl).toBeLessThanOrEqual(3000);
  });

  it('lets requests through when Redis fails (the limit protects capacity; the API keeps answering)', async () => {
    const broken = env.newRedis();
    const l = new ApiRateLimiter(broken, { prefix: env.redisPrefix, defaults: { perSecond: 1, burst: 1 }, clock: new ManualClock(), logger: silentLogger });
    broken.disconnect();
    expect(await l.take(TENANT, 'down', { perSecond: null, burst: null })).toEqual({ ok: true });
  });
});
