import { afterAll, describe, it } from 'vitest';
import { FaultWorld } from './support/fault-world.js';

// Retries 1 s, 2 s, 4 s, 8 s apart (half of it jitter): they outlast the token layer's 5 s memory of a failed
// refresh, so a short outage is survived; one of 20 s is not.
const MAX_ATTEMPTS = 5;

const worlds: FaultWorld[] = [];
afterAll(async () => {
  await Promise.all(worlds.map((w) => w.close()));
});

/** A world of each test's own, so the two outages (each its own proxy in front of the simulator) run at once. */
async function startWorld(): Promise<FaultWorld> {
  const w = await FaultWorld.start({ proxyWechat: true, env: { APPLY_MAX_ATTEMPTS: String(MAX_ATTEMPTS), APPLY_BACKOFF_MS: '1000' } });
  worlds.push(w);
  return w;
}

describe.concurrent('the WeChat simulator down', () => {
  it('retries through a short outage: every application opens, each call once', async ({ expect }) => {
    const world = await startWorld();
    const t = await world.tenant({ merchants: 5, openAfterMs: 200 });
    await world.wechatProxy?.down();
    await t.client.applyAll(t.appIds);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await world.wechatProxy?.up();

    const report = await world.expectLedger({ expectedStatus: () => ['OPENED'], timeoutMs: 20_000 });
    expect(report.figures.byStatus).toEqual({ OPENED: 5 });
    expect(await world.calls(t.appIds)).toBe(5);
  }, 30_000);

  it('fails the applications after its attempts when the outage outlasts them, having sent nothing', async ({ expect }) => {
    const world = await startWorld();
    const t = await world.tenant({ merchants: 3, openAfterMs: 200 });
    await world.wechatProxy?.down();
    try {
      await t.client.applyAll(t.appIds);
      await world.expectLedger({ expectedStatus: () => ['FAILED'], timeoutMs: 25_000 });
    } finally {
      await world.wechatProxy?.up();
    }
    const rows = await world.applications(t);
    expect(rows.map((r) => [r.errorCode, r.attempts])).toEqual(t.appIds.map(() => ['RETRIES_EXHAUSTED', MAX_ATTEMPTS]));
    expect(await world.calls(t.appIds)).toBe(0);
  }, 40_000);
});
