import { and, eq } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { liveApplicationEvents, liveApplications } from '../../src/db/tables.js';
import { expectEventually } from '../support/test-env.js';
import { createHarness, type Harness, moveClock } from './support/apply-harness.js';

const PAUSE_MS = 3_600_000;
const ERRMSG = 'live broadcast is under maintenance; no new grants for now hint: [pause]';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function harness(): Promise<Harness> {
  h = await createHarness({ liveGrantsPauseMs: PAUSE_MS });
  return h;
}

async function rowsOf(hh: Harness, tenantId: string) {
  return hh.env.database.db.select().from(liveApplications).where(eq(liveApplications.tenantId, tenantId));
}

async function settled(hh: Harness, tenantId: string, expected: { failed: number; held: number; calls: number }) {
  await expectEventually(
    async () => {
      const rows = await rowsOf(hh, tenantId);
      const failed = rows.filter((r) => r.status === 'FAILED');
      const held = rows.filter((r) => r.status === 'QUEUED' && r.errorCode === 'LIVE_GRANTS_PAUSED');
      expect({ failed: failed.length, held: held.length, calls: await hh.calls() }).toEqual(expected);
      for (const r of failed) expect(r).toMatchObject({ errorCode: 'LIVE_GRANTS_PAUSED', errcode: 268489001, errmsg: ERRMSG });
      // Every held job is parked until the pause ends, none is running or about to.
      expect(await hh.jobs('delayed', 'apply')).toHaveLength(expected.held);
    },
    { timeoutMs: 20_000 },
  );
}

describe('WeChat grants no new live permissions (268489001)', () => {
  it('spends one probe call per pause window on a batch of 50, holds the rest visibly, and resumes when grants open', async () => {
    const hh = await harness();
    const t = await hh.tenant(50);
    await hh.admin.setLiveGrantsPaused(true, ERRMSG);
    hh.startWorker({ concurrency: 10 });
    await hh.lifecycle.applyBatch(t.ctx, t.appIds);

    // The first call is the probe (nothing is known yet): it ends its application; the other 49 wait.
    await settled(hh, t.tenant.id, { failed: 1, held: 49, calls: 1 });
    const status = await hh.gate.status(hh.clock.now());
    expect(status).toMatchObject({ paused: true, errmsg: ERRMSG, pausedUntil: new Date(hh.clock.now() + PAUSE_MS).toISOString() });
    // A held application says why, once, in its history; it spent no attempt.
    const held = (await rowsOf(hh, t.tenant.id)).find((r) => r.status === 'QUEUED');
    expect(held).toMatchObject({ attempts: 0, errcode: null });
    const notes = await hh.env.database.db
      .select()
      .from(liveApplicationEvents)
      .where(and(eq(liveApplicationEvents.applicationId, held?.id as string), eq(liveApplicationEvents.type, 'NOTE')));
    expect(notes).toHaveLength(1);
    expect(notes[0]?.message).toContain('268489001');

    // Woken early (before the window ends), the held jobs go back to sleep without a call.
    await moveClock(hh, hh.clock.now() + PAUSE_MS / 2);
    await settled(hh, t.tenant.id, { failed: 1, held: 49, calls: 1 });

    // The window ends: one probe, still paused: one more application ends, 48 wait again.
    await moveClock(hh, hh.clock.now() + PAUSE_MS / 2 + 1_000);
    await settled(hh, t.tenant.id, { failed: 2, held: 48, calls: 2 });

    // WeChat grants again: the next probe is accepted, and the 47 others follow it.
    await hh.admin.setLiveGrantsPaused(false);
    await moveClock(hh, hh.clock.now() + PAUSE_MS + 1_000);
    await expectEventually(
      async () => {
        const rows = await rowsOf(hh, t.tenant.id);
        expect(rows.filter((r) => r.status === 'SUBMITTED')).toHaveLength(48);
      },
      { timeoutMs: 20_000 },
    );
    expect(await hh.calls()).toBe(50);
    expect((await rowsOf(hh, t.tenant.id)).filter((r) => r.status === 'SUBMITTED').every((r) => r.errorCode === null)).toBe(true);
    expect((await hh.gate.status(hh.clock.now())).paused).toBe(false);
  });

  it('pauses every tenant: another tenant applying during the pause spends no call', async () => {
    const hh = await harness();
    const a = await hh.tenant(3);
    const b = await hh.tenant(3);
    await hh.admin.setLiveGrantsPaused(true, ERRMSG);
    hh.startWorker({ concurrency: 4 });
    await hh.lifecycle.applyBatch(a.ctx, a.appIds);
    await settled(hh, a.tenant.id, { failed: 1, held: 2, calls: 1 });

    await hh.lifecycle.applyBatch(b.ctx, b.appIds);
    await expectEventually(async () => {
      const rows = await rowsOf(hh, b.tenant.id);
      expect(rows.map((r) => [r.status, r.errorCode])).toEqual(Array.from({ length: 3 }, () => ['QUEUED', 'LIVE_GRANTS_PAUSED']));
    });
    expect(await hh.calls()).toBe(1);
  });
});
