import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectEventually } from '../support/test-env.js';
import { FaultWorld } from './support/fault-world.js';

let world: FaultWorld;

beforeAll(async () => {
  // The worker runs as processes only, so a SIGKILL hits the process holding the jobs.
  world = await FaultWorld.start({ role: 'api' });
});
afterAll(async () => {
  await world?.close();
});

describe('a worker killed with SIGKILL mid-job', () => {
  it('hands its jobs to another worker; every application is submitted, each killed call sent once more and no more', async () => {
    // WeChat holds each call for 2 s: the worker dies while it waits for the answers.
    const t = await world.tenant({ merchants: 6, scenario: { kind: 'slow', delayMs: 2_000, inner: { kind: 'accept' } }, openAfterMs: null });
    const doomed = await world.startWorker({ WORKER_CONCURRENCY: '3' });
    await t.client.applyAll(t.appIds);
    const byAppId = async () => (await world.admin.counters()).calls.applyliveinfo?.byAppId ?? {};
    await expectEventually(async () => expect(Object.keys(await byAppId())).toHaveLength(3), { timeoutMs: 10_000 });

    const rescuer = await world.startWorker({ WORKER_CONCURRENCY: '3' });
    const inFlight = new Set(Object.keys(await byAppId()));
    await doomed.kill();

    const report = await world.expectLedger({
      expectedStatus: () => ['SUBMITTED'],
      // The killed calls reached WeChat and their answers were lost with the process: WeChat got each once more.
      unrecordedCallsAllowed: (appId) => (inFlight.has(appId) ? 1 : 0),
      timeoutMs: 25_000,
    });
    expect(report.figures.byStatus).toEqual({ SUBMITTED: 6 });
    for (const appId of t.appIds) expect(await world.calls([appId])).toBe(inFlight.has(appId) ? 2 : 1);
    expect(rescuer.problems.filter((p) => !p.includes('"level":40'))).toEqual([]);
  }, 50_000);
});
