import { afterAll, beforeAll, describe, it } from 'vitest';
import { expectEventually } from '../support/test-env.js';
import { FaultWorld } from './support/fault-world.js';

let world: FaultWorld;

// Retries 250 ms, 500 ms, 1 s apart (half of it jitter).
const MAX_ATTEMPTS = 4;

beforeAll(async () => {
  world = await FaultWorld.start({ env: { APPLY_MAX_ATTEMPTS: String(MAX_ATTEMPTS), APPLY_BACKOFF_MS: '250', WECHAT_TIMEOUT_MS: '400' } });
});
afterAll(async () => {
  await world?.close();
});

// Each test has its own tenant and merchants, and the ledger is read per tenant: they run at once.
describe.concurrent('WeChat misbehaving', () => {
  describe('the WeChat simulator slower than the client timeout', () => {
    it('records every timed-out call; the open events of the calls WeChat did take open the application once', async ({ expect }) => {
      // Each call outlives the 400 ms timeout but WeChat takes it, and its admin accepts 1.5 s later:
      // the retries (about 0.6 s apart) each bring an open event of their own, seconds apart.
      const t = await world.tenant({ merchants: 3, scenario: { kind: 'slow', delayMs: 700, inner: { kind: 'accept' } }, openAfterMs: 1_500 });
      await t.client.applyAll(t.appIds);

      const report = await world.expectLedger({
        tenants: [t],
        expectedStatus: () => ['OPENED'],
        // A retry sent before the open event arrived ends after it: the row has moved on and that attempt is not recorded.
        unrecordedCallsAllowed: () => 1,
        timeoutMs: 15_000,
      });
      expect(report.figures.byStatus).toEqual({ OPENED: 3 });
      expect(report.figures.applyCalls).toBeGreaterThanOrEqual(3 * 3);
      // Every open event was stored and acknowledged; the repeats changed nothing.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(await world.applications(t)).toHaveLength(3);
      expect((await world.checkLedger({ tenants: [t], expectedStatus: () => ['OPENED'], unrecordedCallsAllowed: () => 1 })).problems).toEqual([]);
    }, 30_000);

    it('fails after its attempts when WeChat never answers in time and never opens', async ({ expect }) => {
      const t = await world.tenant({ merchants: 2, scenario: { kind: 'slow', delayMs: 700, inner: { kind: 'accept' } } });
      await t.client.applyAll(t.appIds);
      const report = await world.expectLedger({ tenants: [t], expectedStatus: () => ['FAILED'], timeoutMs: 15_000 });
      expect(report.figures.applyCalls).toBe(2 * MAX_ATTEMPTS);
    }, 30_000);
  });

  describe('the WeChat simulator answering HTTP 500', () => {
    it('retries through 500s and submits once WeChat answers again', async ({ expect }) => {
      const t = await world.tenant({ merchants: 3, scenario: { kind: 'http500' }, openAfterMs: 200 });
      await t.client.applyAll(t.appIds);
      // Every merchant has met a 500 and is being retried (the first call of a batch is the live-grants
      // probe, so they do not start in step): then WeChat recovers, before any has used its attempts.
      await expectEventually(
        async () => {
          const perApp = await Promise.all(t.appIds.map((appId) => world.calls([appId])));
          expect(Math.min(...perApp)).toBeGreaterThanOrEqual(1);
          expect(perApp.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(4);
        },
        { timeoutMs: 10_000, intervalMs: 10 },
      );
      for (const appId of t.appIds) await world.admin.setScenario(appId, { kind: 'accept' });

      const report = await world.expectLedger({ tenants: [t], expectedStatus: () => ['OPENED'], timeoutMs: 15_000 });
      expect(report.figures.byStatus).toEqual({ OPENED: 3 });
      expect(report.figures.applyCalls).toBeLessThanOrEqual(3 * MAX_ATTEMPTS);
    }, 30_000);

    it('fails after its attempts when the 500s go on', async ({ expect }) => {
      const t = await world.tenant({ merchants: 2, scenario: { kind: 'http500' } });
      await t.client.applyAll(t.appIds);
      const report = await world.expectLedger({ tenants: [t], expectedStatus: () => ['FAILED'], timeoutMs: 15_000 });
      expect(report.figures.applyCalls).toBe(2 * MAX_ATTEMPTS);
    }, 30_000);

    it('stops at the daily quota when it is below the attempts, and waits for the next quota day', async ({ expect }) => {
      const t = await world.tenant({ merchants: 2, dailyQuotaPerApp: 3, scenario: { kind: 'http500' } });
      await t.client.applyAll(t.appIds);
      await expectEventually(async () => expect(await world.calls(t.appIds)).toBe(6), { timeoutMs: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const report = await world.expectLedger({ tenants: [t], expectedStatus: () => ['QUEUED'] });
      expect(report.figures.applyCalls).toBe(6);
    }, 30_000);
  });
});
