import { afterAll, describe, expect, it, vi } from 'vitest';
import { expectEventually } from '../support/test-env.js';
import { FaultWorld } from './support/fault-world.js';

const worlds: FaultWorld[] = [];

// ioredis and BullMQ print every failed reconnect with console.error unless the gateway listens.
const consoleErrors = vi.spyOn(console, 'error');

afterAll(async () => {
  await Promise.all(worlds.map((w) => w.close()));
  expect(consoleErrors.mock.calls.map((c) => String(c[0]).slice(0, 120))).toEqual([]);
});

/** Each test has a world of its own (database, redis-server, simulator, gateway): they run at once. */
async function startWorld(): Promise<FaultWorld> {
  const w = await FaultWorld.start({ ownRedis: true });
  worlds.push(w);
  return w;
}

describe.concurrent('Redis restarted', () => {
  describe('Redis restarted during a run', () => {
    it('keeps its data across a restart: queued jobs run, pushes are stored, every application opens', async ({ expect }) => {
      const w = await startWorld();
      const t = await w.tenant({ merchants: 12, scenario: { kind: 'slow', delayMs: 300, inner: { kind: 'accept' } }, openAfterMs: 300 });
      const [before, after] = [t.appIds.slice(0, 8), t.appIds.slice(8)];
      await t.client.applyAll(before);
      await expectEventually(async () => expect(await w.calls(before)).toBeGreaterThanOrEqual(2), { timeoutMs: 10_000 });

      await w.redis?.restart({ downMs: 1_000 });
      await t.client.applyAll(after);

      const report = await w.expectLedger({ expectedStatus: () => ['OPENED'], timeoutMs: 30_000 });
      expect(report.figures.byStatus).toEqual({ OPENED: 12 });
      expect(await w.calls(t.appIds)).toBe(12);
    }, 55_000);
  });

  describe('Redis restarted empty', () => {
    it('loses jobs, quota counts and tokens, and still opens every application, within quota', async ({ expect }) => {
      const w = await startWorld();
      // Busy merchants spend their whole quota (3) on retries, then wait for the next quota day.
      const busy = await w.tenant({ merchants: 3, dailyQuotaPerApp: 3, scenario: { kind: 'busy', times: 'forever' } });
      const opening = await w.tenant({ merchants: 6, scenario: { kind: 'slow', delayMs: 300, inner: { kind: 'accept' } }, openAfterMs: 300 });
      // A console following every change: what Redis loses on the restart comes back from Postgres.
      const latest = new Map<string, string>();
      const follower = opening.client.subscribe(w.app.url as string, (c) => latest.set(c.appId, c.status));
      await follower.connected;
      await busy.client.applyAll(busy.appIds);
      await opening.client.applyAll(opening.appIds.slice(0, 4));
      await expectEventually(async () => expect(await w.calls(busy.appIds)).toBe(9), { timeoutMs: 15_000 });

      await w.redis?.restartEmpty({ downMs: 500 });
      await opening.client.applyAll(opening.appIds.slice(4));

      const report = await w.expectLedger({
        expectedStatus: (a) => (busy.appIds.includes(a.appId) ? ['QUEUED'] : ['OPENED']),
        timeoutMs: 30_000,
      });
      expect(report.figures.byStatus).toEqual({ QUEUED: 3, OPENED: 6 });
      await expectEventually(() => expect(opening.appIds.map((a) => latest.get(a))).toEqual(opening.appIds.map(() => 'OPENED')), { timeoutMs: 15_000 });
      await follower.dispose();
      // The reconciler put the lost jobs back; the busy ones must still wait for tomorrow.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(await w.calls(busy.appIds)).toBe(9);
    }, 55_000);
  });
});
