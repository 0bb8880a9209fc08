import { Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { APPLY_QUEUE_NAME } from '../../src/jobs/apply-queue.js';
import { bullPrefix } from '../../src/jobs/quota-keys.js';
import { silentLogger } from '../../src/lib/logger.js';
import { LiveApplicationLifecycle, SUBMISSION_TTL_MS } from '../../src/services/live-application/index.js';
import { AuthorizersService } from '../../src/services/authorizers.service.js';
import { deleteKeys, expectEventually } from '../support/test-env.js';
import { createHarness, type Harness, moveClock } from './support/apply-harness.js';
import { systemClock } from '../../src/lib/clock.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function harness(): Promise<Harness> {
  h = await createHarness();
  return h;
}

/** Deletes every key of this test's prefix (queue, quota, tokens): Redis restarted empty, for this test only. */
function emptyRedis(hh: Harness): Promise<void> {
  return deleteKeys(hh.env.redis, hh.env.redisPrefix);
}

describe('reconciler', () => {
  it('re-enqueues QUEUED applications whose jobs vanished with Redis, and each is applied once', async () => {
    const hh = await harness();
    const t = await hh.tenant(3);
    const results = await hh.lifecycle.applyBatch(t.ctx, t.appIds);
    expect(await hh.jobs('prioritized', 'apply')).toHaveLength(3);
    await emptyRedis(hh);
    expect(await hh.queue.queue.getJobCounts()).toMatchObject({ prioritized: 0, waiting: 0, delayed: 0 });

    expect(await hh.reconciler.runOnce()).toMatchObject({ ran: true, checked: 3, enqueued: 3, replaced: 0 });
    // Idempotent: the jobs exist now, a second run adds nothing.
    expect(await hh.reconciler.runOnce()).toMatchObject({ checked: 3, enqueued: 0 });
    hh.startWorker();
    await expectEventually(async () => expect(await hh.statuses(t.tenant.id)).toEqual({ SUBMITTED: 3 }));
    expect(await hh.calls(t.appIds)).toBe(3);
    expect(results.every((r) => r.application?.status === 'QUEUED')).toBe(true);
    expect(await hh.reconciler.runOnce()).toMatchObject({ checked: 0, enqueued: 0 });
  });

  it('picks up an application whose enqueue failed after the row was committed', async () => {
    const hh = await harness();
    const t = await hh.tenant(1);
    const broken = new LiveApplicationLifecycle({
      db: hh.env.appDatabase.db,
      authorizers: new AuthorizersService(hh.env.database.db, hh.env.box, systemClock),
      queue: {
        enqueue: () => Promise.reject(new Error('Redis unavailable')),
        remove: () => Promise.resolve(false),
        scheduleExpiry: () => Promise.resolve(),
      },
      publisher: hh.relay,
      clock: hh.clock,
      logger: silentLogger,
    });
    const [result] = await broken.applyBatch(t.ctx, t.appIds);
    const id = result?.application?.id as string;
    expect(await hh.queue.queue.getJob(id)).toBeUndefined();
    hh.startWorker();
    expect(await hh.reconciler.runOnce()).toMatchObject({ enqueued: 1 });
    await expectEventually(async () => expect((await hh.row(id))?.status).toBe('SUBMITTED'));
  });

  it('replaces a job that finished while its row stayed QUEUED', async () => {
    const hh = await harness();
    const t = await hh.tenant(1);
    const [result] = await hh.lifecycle.applyBatch(t.ctx, t.appIds);
    const id = result?.application?.id as string;
    // Finish the job by hand, as if the worker's final row update had been lost.
    const manual = new Worker(APPLY_QUEUE_NAME, null, { connection: hh.env.newRedis({ maxRetriesPerRequest: null }), prefix: bullPrefix(hh.env.redisPrefix) });
    const job = await manual.getNextJob('manual-token');
    expect(job?.id).toBe(id);
    await job?.moveToCompleted('lost', 'manual-token', false);
    await manual.close();
    expect(await hh.queue.queue.getJobState(id)).toBe('completed');

    expect(await hh.reconciler.runOnce()).toMatchObject({ replaced: 1 });
    hh.startWorker();
    await expectEventually(async () => expect((await hh.row(id))?.status).toBe('SUBMITTED'));
    expect(await hh.calls(t.appIds)).toBe(1);
  });

  it('never calls applyliveinfo again for an application already SUBMITTED', async () => {
    const hh = await harness();
    hh.startWorker();
    const t = await hh.tenant(1);
    const [result] = await hh.lifecycle.applyBatch(t.ctx, t.appIds);
    const id = result?.application?.id as string;
    await expectEventually(async () => expect((await hh.row(id))?.status).toBe('SUBMITTED'));
    // The row commits before BullMQ records the job's completion (a running job cannot be replaced): wait for that too.
    await expectEventually(async () => expect(await hh.queue.queue.getJobState(id)).toBe('completed'));
    // A job re-run for it (a re-delivery after a crash) loads the row and stops.
    await hh.queue.replace([{ tenantId: t.tenant.id, applicationId: id, appId: t.appIds[0] as string }]);
    await expectEventually(async () => expect((await hh.queue.queue.getJob(id))?.returnvalue).toBe('SKIPPED_SUBMITTED'));
    expect(await hh.calls(t.appIds)).toBe(1);
    expect(await hh.reconciler.runOnce()).toMatchObject({ checked: 0 });
  });

  it('expires SUBMITTED applications whose expiry job was lost', async () => {
    const hh = await harness();
    hh.startWorker();
    const t = await hh.tenant(1);
    const [result] = await hh.lifecycle.applyBatch(t.ctx, t.appIds);
    const id = result?.application?.id as string;
    await expectEventually(async () => expect((await hh.row(id))?.status).toBe('SUBMITTED'));
    await expectEventually(async () => expect(await hh.jobs('delayed', 'expire')).toHaveLength(1));
    await emptyRedis(hh);
    await moveClock(hh, hh.clock.now() + SUBMISSION_TTL_MS + 1_000);
    expect(await hh.reconciler.runOnce()).toMatchObject({ expired: 1 });
    expect((await hh.row(id))?.status).toBe('EXPIRED');
  });
});
