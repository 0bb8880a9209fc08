import { eq, sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { tenants } from '../../src/db/tables.js';
import { nextQuotaDayStart } from '../../src/lib/quota-day.js';
import { SUBMISSION_TTL_MS } from '../../src/services/live-application/index.js';
import type { SimScenario } from '../../src/wechat/simulator/types.js';
import { LogCapture } from '../security/support/log-capture.js';
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

/** One merchant, one application, with the simulator answering `scenario`. */
async function applyOne(hh: Harness, scenario: SimScenario = { kind: 'accept' }, overrides = {}) {
  const t = await hh.tenant(1, overrides);
  const appId = t.appIds[0] as string;
  await hh.admin.setScenario(appId, scenario);
  const [result] = await hh.lifecycle.applyBatch(t.ctx, [appId]);
  const id = result?.application?.id;
  if (!id) throw new Error(`apply failed: ${JSON.stringify(result?.userErrors)}`);
  return { ...t, appId, id };
}

describe('apply outcomes', () => {
  it('rejects on errcode 2 (not paid in 90 days) without retrying', async () => {
    const hh = await harness();
    hh.startWorker();
    const { id, appId } = await applyOne(hh, { kind: 'not_paid' });
    await expectEventually(async () => expect(await hh.row(id)).toMatchObject({ status: 'REJECTED', errorCode: 'NOT_PAID_90_DAYS', errcode: 2, attempts: 1 }));
    // The row commits before BullMQ records the job's completion: wait for that too.
    await expectEventually(async () => expect((await hh.queue.queue.getJob(id))?.returnvalue).toBe('REJECTED'));
    expect(await hh.calls([appId])).toBe(1);
    const [event] = await hh.attemptEvents(id);
    expect(event).toMatchObject({ status: 'REJECTED', errcode: 2, attempt: 1 });
    expect(event?.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('fails permanently on 61007 (permission set 52 missing) with the errcode kept', async () => {
    const hh = await harness();
    hh.startWorker();
    const { id, appId } = await applyOne(hh, { kind: 'no_permission' });
    await expectEventually(async () => expect(await hh.row(id)).toMatchObject({ status: 'FAILED', errorCode: 'PERMISSION_NOT_GRANTED', errcode: 61007 }));
    await expectEventually(async () => expect(await hh.queue.queue.getJobState(id)).toBe('failed'));
    expect(await hh.calls([appId])).toBe(1);
  });

  it('retries -1 with backoff and records every attempt, then gives up with RETRIES_EXHAUSTED', async () => {
    const hh = await harness({ maxAttempts: 3, backoffMs: 10 });
    hh.startWorker();
    const flaky = await applyOne(hh, { kind: 'busy', times: 2 });
    const down = await applyOne(hh, { kind: 'busy', times: 'forever' });
    await expectEventually(async () => expect(await hh.row(flaky.id)).toMatchObject({ status: 'SUBMITTED', attempts: 3 }));
    expect((await hh.attemptEvents(flaky.id)).map((e) => [e.status, e.errcode, e.attempt])).toEqual([
      ['QUEUED', -1, 1],
      ['QUEUED', -1, 2],
      ['SUBMITTED', 0, 3],
    ]);
    await expectEventually(async () => expect(await hh.row(down.id)).toMatchObject({ status: 'FAILED', errorCode: 'RETRIES_EXHAUSTED', errcode: -1 }));
    expect(await hh.calls([down.appId])).toBe(3);
  });

  it('fails with REAUTHORIZE_REQUIRED on 61023 and gives the unsent call back to the quota', async () => {
    const hh = await harness();
    hh.startWorker();
    const t = await hh.tenant(1);
    const appId = t.appIds[0] as string;
    // WeChat no longer knows the refresh token we hold.
    await hh.admin.addAuthorizer({ componentAppId: t.input.componentAppId, appId, refreshToken: 'another-refresh-token' });
    const [result] = await hh.lifecycle.applyBatch(t.ctx, [appId]);
    const id = result?.application?.id as string;
    await expectEventually(async () => expect(await hh.row(id)).toMatchObject({ status: 'FAILED', errorCode: 'REAUTHORIZE_REQUIRED', errcode: 61023 }));
    expect(await hh.calls([appId])).toBe(0);
    expect(await hh.limiter.getQuota(t.tenant, appId, hh.clock.now())).toMatchObject({ used: 0, tenantUsed: 0 });
  });

  it('marks the appid spent on 45009 and waits for the next quota day without failing', async () => {
    const hh = await harness();
    await hh.admin.updateSettings({ applyLiveDailyLimit: 0 });
    hh.startWorker();
    const { id, appId, tenant } = await applyOne(hh);
    await expectEventually(async () => expect(await hh.jobs('delayed', 'apply')).toHaveLength(1));
    expect(await hh.row(id)).toMatchObject({ status: 'QUEUED', errcode: 45009 });
    expect(await hh.limiter.getQuota(tenant, appId, hh.clock.now())).toMatchObject({ used: 1, remaining: 0 });
    // Spent for the rest of the day, whatever our own counter says: no second call today.
    await hh.queue.queue.promoteJobs();
    await expectEventually(async () => expect(await hh.jobs('delayed', 'apply')).toHaveLength(1));
    expect(await hh.calls([appId])).toBe(1);

    await hh.admin.updateSettings({ applyLiveDailyLimit: 100 });
    await moveClock(hh, nextQuotaDayStart(hh.clock.now()) + 1_000);
    await expectEventually(async () => expect((await hh.row(id))?.status).toBe('SUBMITTED'));
    expect(await hh.calls([appId])).toBe(2);
  });

  it('expires a SUBMITTED application 24 hours later, not before', async () => {
    const hh = await harness();
    hh.startWorker();
    const { id } = await applyOne(hh);
    await expectEventually(async () => expect((await hh.row(id))?.status).toBe('SUBMITTED'));
    // processedOn tells a job that has run (and went back to sleep) from one never woken.
    const expiry = async () => (await hh.jobs('delayed', 'expire')).map((j) => ({ applicationId: j.data.applicationId, ran: j.processedOn !== undefined }));
    await expectEventually(async () => expect(await expiry()).toEqual([{ applicationId: id, ran: false }]));

    // Woken early (23 h): it runs, finds the row not due and goes back to sleep.
    await moveClock(hh, hh.clock.now() + SUBMISSION_TTL_MS - 3600_000);
    await expectEventually(async () => expect(await expiry()).toEqual([{ applicationId: id, ran: true }]));
    expect((await hh.row(id))?.status).toBe('SUBMITTED');

    await moveClock(hh, hh.clock.now() + 3600_000 + 1_000);
    await expectEventually(async () => expect(await hh.row(id)).toMatchObject({ status: 'EXPIRED', errorCode: 'SUBMISSION_EXPIRED' }));
  });

  it('removes the job of a cancelled QUEUED application', async () => {
    const hh = await harness();
    hh.startWorker();
    const t = await hh.tenant(2, { dailyQuotaPerTenant: 1 });
    await hh.lifecycle.applyBatch(t.ctx, t.appIds);
    await expectEventually(async () => expect(await hh.statuses(t.tenant.id)).toEqual({ SUBMITTED: 1, QUEUED: 1 }));
    // Parked for the next quota day (not the short wait for another job's live-grants probe).
    await expectEventually(async () => expect((await hh.jobs('delayed', 'apply')).filter((j) => j.delay > 60_000)).toHaveLength(1));
    const [delayed] = await hh.jobs('delayed', 'apply');
    const queuedId = delayed?.data.applicationId as string;
    expect((await hh.row(queuedId))?.status).toBe('QUEUED');
    const cancelled = await hh.lifecycle.cancel(t.ctx, queuedId);
    expect(cancelled.application?.status).toBe('CANCELLED');
    expect(await hh.queue.queue.getJob(queuedId)).toBeUndefined();
  });

  it('completes the job of a tenant deleted meanwhile, calling nothing', async () => {
    const hh = await harness();
    const { id, appId, tenant } = await applyOne(hh);
    await hh.env.database.db.delete(tenants).where(eq(tenants.id, tenant.id));
    hh.startWorker();
    await expectEventually(async () => expect(await hh.queue.queue.getJobState(id)).toBe('completed'));
    expect((await hh.queue.queue.getJob(id))?.returnvalue).toBe('GONE');
    expect(await hh.calls([appId])).toBe(0);
  });
});

describe('recording an outcome that keeps failing', () => {
  it('fails the job after its attempts, logged with the application id, and never calls WeChat twice for one accepted answer', async () => {
    const logs = new LogCapture('warn');
    const hh = await harness({ maxAttempts: 3, backoffMs: 10, workerLogger: logs.logger });
    const { id, appId } = await applyOne(hh);
    // A real failure of the write path, not a stand-in: the gateway's role may no longer update applications.
    await hh.env.database.db.execute(sql`revoke update on live_applications from wxlive_app`);
    hh.startWorker();

    await expectEventually(async () => expect(await hh.queue.queue.getJobState(id)).toBe('failed'));
    const job = await hh.queue.queue.getJob(id);
    expect(job?.attemptsMade).toBe(3);
    expect(job?.data.accepted).toMatchObject({ errcode: 0 });
    expect(await hh.calls([appId])).toBe(1);
    expect((await hh.row(id))?.status).toBe('QUEUED');
    const lines = logs.lines.filter((l) => l.entry.applicationId === id && String(l.entry.msg).startsWith('recording an accepted application failed'));
    expect(lines.map((l) => l.entry.level)).toEqual([40, 40, 50]);

    // Fixed: the reconciler's replacement job records the kept answer, with no second call.
    await hh.env.database.db.execute(sql`grant update on live_applications to wxlive_app`);
    expect(await hh.reconciler.runOnce()).toMatchObject({ replaced: 1 });
    await expectEventually(async () => expect(await hh.row(id)).toMatchObject({ status: 'SUBMITTED', errcode: 0 }));
    expect(await hh.calls([appId])).toBe(1);
  });
});

describe('a run that stays in one step', () => {
  it('names its step while it runs, and is logged once as stuck with that step', async () => {
    const logs = new LogCapture('warn');
    const hh = await harness({ workerLogger: logs.logger });
    // WeChat holds the call for 1.5 s, three times the stuck threshold.
    const { id } = await applyOne(hh, { kind: 'slow', delayMs: 1_500, inner: { kind: 'accept' } });
    const worker = hh.startWorker({ stuckAfterMs: 400 });

    await expectEventually(async () => expect(worker.active()).toMatchObject([{ step: 'wechat-call' }]), { intervalMs: 20 });
    await expectEventually(async () => expect((await hh.row(id))?.status).toBe('SUBMITTED'));
    const stuck = logs.lines.filter((l) => l.entry.msg === 'apply job stuck in one step');
    expect(stuck.map((l) => l.entry.step)).toEqual(['wechat-call']);
    expect(stuck[0]?.entry.stepMs).toBeGreaterThanOrEqual(400);
    expect(worker.active()).toEqual([]);
  });
});
