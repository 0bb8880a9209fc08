import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/lib/clock.js';
import { expectEventually } from '../support/test-env.js';
import { createHarness, type Harness } from './support/apply-harness.js';
import { spawnWorkerProcess } from './support/spawn-worker.js';

// Short locks so a killed worker's job is taken back within seconds (production: 30 s).
const LOCK_MS = 1_500;
const STALLED_MS = 500;

let h: Harness | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await h?.close();
  h = undefined;
});

async function spawnWorker(hh: Harness): Promise<ChildProcess> {
  const child = await spawnWorkerProcess({
    databaseUrl: hh.env.databaseUrl,
    redisUrl: hh.env.redisUrl,
    redisPrefix: hh.env.redisPrefix,
    secretKey: hh.env.secretKey,
    wechatApiBase: hh.sim.url,
    lockDurationMs: LOCK_MS,
    stalledIntervalMs: STALLED_MS,
  });
  children.push(child);
  return child;
}

describe('worker processes', () => {
  it('takes back the job of a worker killed mid-call; the lost call counts once more against quota', async () => {
    const hh = await createHarness({ clock: systemClock });
    h = hh;
    const t = await hh.tenant(1);
    const appId = t.appIds[0] as string;
    // WeChat holds the call long enough to kill the worker while it waits for the answer.
    await hh.admin.setScenario(appId, { kind: 'slow', delayMs: 4_000, inner: { kind: 'accept' } });
    const child = await spawnWorker(hh);
    const [result] = await hh.lifecycle.applyBatch(t.ctx, [appId]);
    const id = result?.application?.id as string;
    await expectEventually(async () => expect(await hh.calls([appId])).toBe(1), { timeoutMs: 10_000 });

    child.kill('SIGKILL');
    await once(child, 'exit');
    expect((await hh.row(id))?.status).toBe('QUEUED');
    await hh.admin.setScenario(appId, { kind: 'accept' });
    hh.startWorker({ lockDurationMs: LOCK_MS, stalledIntervalMs: STALLED_MS });

    await expectEventually(async () => expect((await hh.row(id))?.status).toBe('SUBMITTED'), { timeoutMs: 15_000, intervalMs: 100 });
    // The killed call reached WeChat and its outcome is unknown, so the application is sent once
    // more: WeChat counted 2 calls, our limiter reserved 2, and the row records the one it saw.
    expect(await hh.calls([appId])).toBe(2);
    expect(await hh.limiter.getQuota(t.tenant, appId, hh.clock.now())).toMatchObject({ used: 2 });
    expect(await hh.row(id)).toMatchObject({ attempts: 1 });
    expect(await hh.attemptEvents(id)).toHaveLength(1);
    // Taken back as stalled, not failed: the finished job counts one (successful) attempt. The row
    // commits before BullMQ records the completion, so wait for that.
    await expectEventually(async () => expect(await hh.queue.queue.getJob(id)).toMatchObject({ stalledCounter: 1, attemptsMade: 1 }));
  });

  it('drains the running job on SIGTERM before exiting', async () => {
    const hh = await createHarness({ clock: systemClock });
    h = hh;
    const t = await hh.tenant(1);
    const appId = t.appIds[0] as string;
    await hh.admin.setScenario(appId, { kind: 'slow', delayMs: 1_500, inner: { kind: 'accept' } });
    const child = await spawnWorker(hh);
    const [result] = await hh.lifecycle.applyBatch(t.ctx, [appId]);
    const id = result?.application?.id as string;
    await expectEventually(async () => expect(await hh.calls([appId])).toBe(1), { timeoutMs: 10_000 });

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect((await hh.row(id))?.status).toBe('SUBMITTED');
    expect(await hh.queue.queue.getJobState(id)).toBe('completed');
    expect(await hh.calls([appId])).toBe(1);
  });
});
