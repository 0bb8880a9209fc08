import { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bullPrefix } from '../../src/jobs/quota-keys.js';
import { SWEEP_JOB_WINDOW_MS, WEBHOOK_QUEUE_NAME, WebhookQueue } from '../../src/jobs/webhook-queue.js';
import { ManualClock } from '../../src/lib/clock.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';

let env: TestEnv;
let queue: WebhookQueue;
const clock = new ManualClock(Date.UTC(2026, 11, 4, 12, 0, 0));

beforeAll(async () => {
  env = await createTestEnv();
  queue = new WebhookQueue({ redis: env.newRedis({ maxRetriesPerRequest: null }), redisPrefix: env.redisPrefix, clock });
});

afterAll(async () => {
  await queue?.close();
  await env?.cleanup();
});

describe('the webhook queue', () => {
  it('gives a due delivery one sweep job per window, so a sweep job that failed before its claim does not hold it for good', async () => {
    const due = {
      tenantId: '00000000-0000-4000-8000-0000000000b1',
      deliveryId: '00000000-0000-4000-8000-0000000000d1',
      endpointId: 'e1',
      dueAt: clock.now() - 1_000,
    };
    await queue.enqueue([due], 'sweep');
    await queue.enqueue([due], 'sweep');
    expect(await queue.queue.getJobCounts('waiting', 'failed')).toEqual({ waiting: 1, failed: 0 });

    // The job fails before it claims the delivery (Postgres unreachable): BullMQ keeps it, and the row is unchanged.
    const worker = new Worker(
      WEBHOOK_QUEUE_NAME,
      async () => {
        throw new Error('connect ECONNREFUSED (Postgres)');
      },
      { connection: env.newRedis({ maxRetriesPerRequest: null }), prefix: bullPrefix(env.redisPrefix) },
    );
    try {
      await expectEventually(async () => expect(await queue.queue.getJobCounts('waiting', 'failed')).toEqual({ waiting: 0, failed: 1 }));
      await worker.pause();
      // Sweeps in the same window add nothing (the failed job has the id) ...
      await queue.enqueue([due], 'sweep');
      expect(await queue.queue.getJobCounts('waiting', 'failed')).toEqual({ waiting: 0, failed: 1 });
      // ... the next window's sweep takes the delivery again.
      clock.advance(SWEEP_JOB_WINDOW_MS);
      await queue.enqueue([due], 'sweep');
      expect(await queue.queue.getJobCounts('waiting', 'failed')).toEqual({ waiting: 1, failed: 1 });
    } finally {
      await worker.close();
    }
  });
});
