import { afterEach, describe, expect, it } from 'vitest';
import { nextQuotaDayStart, quotaDay } from '../../src/lib/quota-day.js';
import { expectEventually } from '../support/test-env.js';
import { createHarness, type Harness, type HarnessOptions, moveClock } from './support/apply-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function harness(options: HarnessOptions = {}): Promise<Harness> {
  h = await createHarness(options);
  return h;
}

/**
 * Nothing can call WeChat again before the clock moves: no apply job can run, and every delayed
 * one is parked until the next quota day (not a short backoff or rate-window wait).
 */
async function expectParkedUntilNextQuotaDay(h: Harness): Promise<void> {
  for (const state of ['waiting', 'prioritized', 'active'] as const) expect(await h.jobs(state, 'apply')).toHaveLength(0);
  const untilNextDayMs = nextQuotaDayStart(h.clock.now()) - h.clock.now();
  // The delay is real time from the moment the job parked, a few milliseconds after it read the clock.
  for (const job of await h.jobs('delayed', 'apply')) expect(job.delay).toBeGreaterThan(untilNextDayMs - 1_000);
}

describe('quota limits across workers', () => {
  it('spends exactly the tenant daily quota with 3 workers, delays the rest to the next quota day, and does not hold up another tenant', async () => {
    const h = await harness();
    const a = await h.tenant(80, { dailyQuotaPerTenant: 50 });
    const b = await h.tenant(1);
    for (let i = 0; i < 3; i++) h.startWorker({ concurrency: 10 });
    const day1 = quotaDay(h.clock.now());

    await h.lifecycle.applyBatch(a.ctx, a.appIds);
    const bStarted = Date.now();
    const [bResult] = await h.lifecycle.applyBatch(b.ctx, b.appIds);
    const bId = bResult?.application?.id as string;

    // Tenant B's one application goes straight through while A is still throttled (10 calls/s).
    await expectEventually(async () => expect((await h.row(bId))?.status).toBe('SUBMITTED'), { timeoutMs: 5_000 });
    const bWaitMs = Date.now() - bStarted;
    expect(bWaitMs).toBeLessThan(3_000);
    expect((await h.statuses(a.tenant.id)).SUBMITTED ?? 0).toBeLessThan(50);

    await expectEventually(
      async () => {
        expect(await h.statuses(a.tenant.id)).toEqual({ SUBMITTED: 50, QUEUED: 30 });
        expect(await h.jobs('delayed', 'apply')).toHaveLength(30);
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    // Exactly 50 calls reached WeChat that quota day, and no more can arrive while the rest wait.
    await expectEventually(() => expectParkedUntilNextQuotaDay(h));
    expect(await h.calls(a.appIds)).toBe(50);
    expect(await h.calls(b.appIds)).toBe(1);
    const quota = await h.limiter.getQuota(a.tenant, a.appIds[0] as string, h.clock.now());
    expect(quota).toMatchObject({ tenantDailyLimit: 50, tenantUsed: 50, remaining: 0 });
    // Waiting for quota neither fails the jobs nor spends their attempts.
    for (const job of await h.jobs('delayed', 'apply')) expect(job.attemptsMade).toBe(0);
    expect(await h.jobs('failed')).toHaveLength(0);

    await moveClock(h, nextQuotaDayStart(h.clock.now()) + 60_000);
    expect(quotaDay(h.clock.now())).not.toBe(day1);
    await expectEventually(async () => expect(await h.statuses(a.tenant.id)).toEqual({ SUBMITTED: 80 }), { timeoutMs: 20_000, intervalMs: 100 });
    expect(await h.calls(a.appIds)).toBe(80);
    expect(await h.limiter.getQuota(a.tenant, a.appIds[0] as string, h.clock.now())).toMatchObject({ tenantUsed: 30 });
  });

  it('stops at dailyQuotaPerApp when WeChat answers -1 forever, and waits for the next day instead of failing', async () => {
    // Attempts high and backoff short: only the quota can stop the retries here.
    const h = await harness({ maxAttempts: 20, backoffMs: 1 });
    const t = await h.tenant(1, { dailyQuotaPerApp: 5 });
    const appId = t.appIds[0] as string;
    await h.admin.setScenario(appId, { kind: 'busy', times: 'forever' });
    h.startWorker();
    const [result] = await h.lifecycle.applyBatch(t.ctx, [appId]);
    const id = result?.application?.id as string;

    await expectEventually(async () => expect(await h.jobs('delayed', 'apply')).toHaveLength(1), { timeoutMs: 10_000 });
    await expectEventually(async () => expect((await h.attemptEvents(id)).length).toBe(5));
    await expectEventually(() => expectParkedUntilNextQuotaDay(h));
    expect(await h.calls([appId])).toBe(5);
    const row = await h.row(id);
    expect(row).toMatchObject({ status: 'QUEUED', errcode: -1, attempts: 5 });
    const [job] = await h.jobs('delayed', 'apply');
    expect(job?.attemptsMade).toBe(5);
    expect(await h.limiter.getQuota(t.tenant, appId, h.clock.now())).toMatchObject({ dailyLimit: 5, used: 5, remaining: 0 });

    // Next quota day: five more tries, then it waits again.
    await moveClock(h, nextQuotaDayStart(h.clock.now()) + 1_000);
    await expectEventually(async () => expect(await h.calls([appId])).toBe(10), { timeoutMs: 10_000 });
    await expectEventually(async () => expect(await h.jobs('delayed', 'apply')).toHaveLength(1));

    // WeChat recovers: the day after, the application goes through.
    await h.admin.setScenario(appId, { kind: 'accept' });
    await moveClock(h, nextQuotaDayStart(h.clock.now()) + 1_000);
    await expectEventually(async () => expect((await h.row(id))?.status).toBe('SUBMITTED'), { timeoutMs: 10_000 });
    expect(await h.calls([appId])).toBe(11);
    expect((await h.attemptEvents(id)).map((e) => e.errcode)).toEqual([...Array(10).fill(-1), 0]);
  });
});
