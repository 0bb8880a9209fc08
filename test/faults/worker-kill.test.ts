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
  it('hands its jobs to another worker: each killed call is sent once more and no more, each merchant opens once', async () => {
    // WeChat holds each call for 2 s: the worker dies while it waits for the answers. Half the
    // merchants' admins accept 8 s after each accepted call (after the resend's answer), so a resent one brings a second open event.
    const slow = { kind: 'slow', delayMs: 2_000, inner: { kind: 'accept' } } as const;
    const opening = await world.tenant({ merchants: 3, scenario: slow, openAfterMs: 8_000 });
    const waiting = await world.tenant({ merchants: 3, scenario: slow, openAfterMs: null });
    const doomed = await world.startWorker({ WORKER_CONCURRENCY: '3' });
    await opening.client.applyAll(opening.appIds);
    await waiting.client.applyAll(waiting.appIds);
    const byAppId = async () => (await world.admin.counters()).calls.applyliveinfo?.byAppId ?? {};
    // The first call probes whether WeChat grants live at all (the live-grants gate); once it is
    // answered the others start together, so the first wave is three or more merchants.
    await expectEventually(async () => expect(Object.keys(await byAppId()).length).toBeGreaterThanOrEqual(3), { timeoutMs: 10_000 });

    const rescuer = await world.startWorker({ WORKER_CONCURRENCY: '3' });
    // In flight: called, answer not yet recorded. A slow start of the rescuer lets the doomed
    // worker finish its first calls (their rows are SUBMITTED, never resent) and begin the next.
    const called = new Set(Object.keys(await byAppId()));
    const rows = [...(await world.applications(opening)), ...(await world.applications(waiting))];
    const inFlight = new Set(rows.filter((r) => r.status === 'QUEUED' && called.has(r.appId)).map((r) => r.appId));
    await doomed.kill();

    // Every accepted call's open event has come in (a resent merchant's second one too).
    await expectEventually(
      async () => {
        const sent = await world.calls(opening.appIds);
        expect(sent).toBe(3 + opening.appIds.filter((a) => inFlight.has(a)).length);
        expect(world.relay.records.filter((r) => r.appId !== null && opening.appIds.includes(r.appId))).toHaveLength(sent);
      },
      { timeoutMs: 25_000, intervalMs: 250 },
    );
    const report = await world.expectLedger({
      expectedStatus: (a) => (opening.appIds.includes(a.appId) ? ['OPENED'] : ['SUBMITTED']),
      // The killed calls reached WeChat and their answers died with the process: WeChat got each once more.
      unrecordedCallsAllowed: (appId) => (inFlight.has(appId) ? 1 : 0),
      timeoutMs: 10_000,
    });
    expect(report.figures.byStatus).toEqual({ OPENED: 3, SUBMITTED: 3 });
    for (const appId of [...opening.appIds, ...waiting.appIds]) expect(await world.calls([appId])).toBe(inFlight.has(appId) ? 2 : 1);
    expect(rescuer.problems.filter((p) => !p.includes('"level":40'))).toEqual([]);
  }, 50_000);
});
