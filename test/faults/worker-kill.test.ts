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
    // merchants' admins accept 12 s after each accepted call's answer (after the resend's answer),
    // so a resent one brings a second open event.
    const slow = { kind: 'slow', delayMs: 2_000, inner: { kind: 'accept' } } as const;
    const opening = await world.tenant({ merchants: 3, scenario: slow, openAfterMs: 12_000 });
    const waiting = await world.tenant({ merchants: 3, scenario: slow, openAfterMs: null });
    // Concurrency 6: every job is in the doomed worker's hands, none left for another to take.
    const doomed = await world.startWorker({ WORKER_CONCURRENCY: '6' });
    await opening.client.applyAll(opening.appIds);
    await waiting.client.applyAll(waiting.appIds);
    const counters = async () => (await world.admin.counters()).calls.applyliveinfo;
    // The first call probes whether WeChat grants live at all (the live-grants gate); once it is
    // answered the others start together. Kill while they wait for WeChat's answers.
    await expectEventually(async () => expect(Object.keys((await counters())?.byAppId ?? {})).toHaveLength(6), { timeoutMs: 10_000, intervalMs: 50 });
    await doomed.kill();
    // Killed: the calls whose caller hung up before WeChat answered; the simulator sees each
    // connection close as the process dies. (Rows read before a kill race the worker's next call.)
    const abandoned = async () => (await counters())?.abandonedByAppId ?? {};
    let inFlight = new Set<string>();
    await expectEventually(
      async () => {
        inFlight = new Set(Object.keys(await abandoned()));
        expect(inFlight.size).toBeGreaterThanOrEqual(1);
      },
      { timeoutMs: 5_000, intervalMs: 50 },
    );
    const rescuer = await world.startWorker({ WORKER_CONCURRENCY: '3' });

    // Every accepted call's open event has come in (a resent merchant's second one too).
    await expectEventually(
      async () => {
        const sent = await world.calls(opening.appIds);
        expect(sent).toBe(3 + opening.appIds.filter((a) => inFlight.has(a)).length);
        expect(world.relay.records.filter((r) => r.appId !== null && opening.appIds.includes(r.appId))).toHaveLength(sent);
      },
      { timeoutMs: 35_000, intervalMs: 250 },
    );
    const report = await world.expectLedger({
      expectedStatus: (a) => (opening.appIds.includes(a.appId) ? ['OPENED'] : ['SUBMITTED']),
      // The killed calls reached WeChat and their answers died with the process: WeChat got each once more.
      unrecordedCallsAllowed: (appId) => (inFlight.has(appId) ? 1 : 0),
      timeoutMs: 10_000,
    });
    expect(report.figures.byStatus).toEqual({ OPENED: 3, SUBMITTED: 3 });
    for (const appId of [...opening.appIds, ...waiting.appIds]) expect(await world.calls([appId])).toBe(inFlight.has(appId) ? 2 : 1);
    // No resend was abandoned: the rescuer waited for each answer.
    expect(Object.values(await abandoned()).every((n) => n === 1)).toBe(true);
    expect(rescuer.problems.filter((p) => !p.includes('"level":40'))).toEqual([]);
  }, 75_000);
});
