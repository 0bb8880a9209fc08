import type { ServerResponse } from 'node:http';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { IN_FLIGHT_ERROR } from '../../src/services/webhooks/delivery.store.js';
import { expectEventually } from '../support/test-env.js';
import { Receiver } from '../webhooks/outbound/support/receiver.js';
import { FaultWorld, type WorldTenant } from './support/fault-world.js';
import { WebhookLedger } from './support/webhook-ledger.js';

const worlds: FaultWorld[] = [];
const receivers: Receiver[] = [];

// ioredis and BullMQ print every failed reconnect with console.error unless the gateway listens.
const consoleErrors = vi.spyOn(console, 'error');

afterAll(async () => {
  await Promise.all(receivers.map((r) => r.stop()));
  await Promise.all(worlds.map((w) => w.close()));
  expect(consoleErrors.mock.calls.map((c) => String(c[0]).slice(0, 120))).toEqual([]);
});

/**
 * Loopback endpoints; attempts last at most 4 s, so an attempt whose worker died is sent again
 * 8 s after it was taken up (production: 15 s and 30 s).
 */
const OUTBOUND = { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true', WEBHOOK_DELIVERY_TIMEOUT_MS: '4000' };

async function world(options: Parameters<typeof FaultWorld.start>[0]) {
  const w = await FaultWorld.start({ ...options, env: { ...OUTBOUND, ...options?.env } });
  worlds.push(w);
  const receiver = await new Receiver().start();
  receivers.push(receiver);
  return { w, receiver, ledger: new WebhookLedger(w.env.database.db, receiver) };
}

/** Two tenants, each with a RELAY and an EVENTS endpoint (every push, every event), made before any apply. */
async function tenantsWithEndpoints(w: FaultWorld, ledger: WebhookLedger, merchants: number): Promise<WorldTenant[]> {
  const tenants: WorldTenant[] = [];
  for (let n = 0; n < 2; n++) {
    const t = await w.tenant({ merchants, scenario: { kind: 'slow', delayMs: 200, inner: { kind: 'accept' } }, openAfterMs: 300 });
    await ledger.endpoint(w.app.services.webhookEndpoints, t, 'RELAY');
    await ledger.endpoint(w.app.services.webhookEndpoints, t, 'EVENTS');
    tenants.push(t);
  }
  return tenants;
}

describe.concurrent('outbound webhooks under faults', () => {
  it('a webhook worker SIGKILLed mid-delivery: each delivery it was sending is sent again under its webhook-id and logged once more', async ({ expect }) => {
    const { w, receiver, ledger } = await world({ role: 'api' });
    const tenants = await tenantsWithEndpoints(w, ledger, 3);
    // While the doomed worker lives, the receivers take requests and never answer them.
    let holding = true;
    const held: { id: string; res: ServerResponse }[] = [];
    for (const path of ledger.paths)
      receiver.on(path, (req, res) => {
        if (holding) held.push({ id: String(req.headers['webhook-id']), res });
        else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      });
    const doomed = await w.startWorker();
    for (const t of tenants) await t.client.applyAll(t.appIds);
    await expectEventually(() => expect(held.length).toBeGreaterThanOrEqual(4), { timeoutMs: 15_000 });

    // In flight at the kill: sent, its connection still open (none has reached its 4 s timeout).
    const inFlight = new Set(held.filter((h) => !h.res.socket?.destroyed).map((h) => h.id));
    await doomed.kill();
    holding = false;
    expect(inFlight.size).toBeGreaterThanOrEqual(1);
    const rescuer = await w.startWorker();

    const ledgerReport = await w.expectLedger({ expectedStatus: () => ['OPENED'], unrecordedCallsAllowed: () => 1, timeoutMs: 30_000 });
    const report = await ledger.expectBalanced({ timeoutMs: 30_000 });
    expect(report.figures.relaysReceived).toBe(report.figures.relaysExpected);
    expect(report.figures.eventsReceived).toBe(report.figures.eventsExpected);
    // 6 applications: QUEUED, SUBMITTED, OPENED each, to each tenant's EVENTS endpoint; their open events relayed.
    // An application whose call the kill caught unanswered may open straight from QUEUED (its push
    // arrives before any answer is recorded): it has no SUBMITTED change to deliver.
    const committed = await ledger.committedByStatus();
    expect({ QUEUED: committed.QUEUED, OPENED: committed.OPENED }).toEqual({ QUEUED: 6, OPENED: 6 });
    expect(committed.SUBMITTED).toBeGreaterThanOrEqual(6 - ledgerReport.figures.unrecordedCalls);
    expect(report.figures.eventsExpected).toBe(12 + (committed.SUBMITTED ?? 0));
    expect(report.figures.relaysExpected).toBeGreaterThanOrEqual(6);

    const rows = await expectEventually(async () => {
      const all = await ledger.deliveries();
      expect(all.filter((d) => d.status !== 'DELIVERED')).toEqual([]);
      return all;
    });
    const receipts = (id: string) => receiver.received.filter((r) => r.headers['webhook-id'] === id).length;
    for (const id of inFlight) {
      const row = rows.find((d) => d.id === id);
      // Sent once by the killed worker, once more after its lease; both in the log.
      expect({ id, receipts: receipts(id), attempts: row?.attempts, lastStatusCode: row?.lastStatusCode }).toEqual({
        id,
        receipts: 2,
        attempts: 2,
        lastStatusCode: 200,
      });
    }
    for (const row of rows) {
      expect(row.lastError).not.toBe(IN_FLIGHT_ERROR);
      // A receipt is an attempt; an attempt the kill caught between its claim and its request was not received.
      expect(row.attempts).toBeGreaterThanOrEqual(receipts(row.id));
      expect(receipts(row.id)).toBeGreaterThanOrEqual(1);
    }
    expect(rescuer.problems.filter((p) => !p.includes('"level":40'))).toEqual([]);
  }, 90_000);

  it('Redis restarted empty during deliveries: every stored push is relayed and every change delivered, from what Postgres holds', async ({ expect }) => {
    const { w, receiver, ledger } = await world({ ownRedis: true });
    const tenants = await tenantsWithEndpoints(w, ledger, 6);
    for (const t of tenants) await t.client.applyAll(t.appIds.slice(0, 3));
    await expectEventually(() => expect(receiver.received.length).toBeGreaterThanOrEqual(4), { timeoutMs: 15_000 });

    // Queued jobs, delayed attempts and the change stream are gone; the delivery rows are not.
    await w.redis?.restartEmpty({ downMs: 1_000 });
    for (const t of tenants) await t.client.applyAll(t.appIds.slice(3));

    await w.expectLedger({ expectedStatus: () => ['OPENED'], timeoutMs: 40_000 });
    const report = await ledger.expectBalanced({ timeoutMs: 40_000 });
    expect(report.figures.eventsExpected).toBe(36);
    expect(report.figures.eventsReceived).toBe(36);
    expect(report.figures.relaysReceived).toBe(report.figures.relaysExpected);
    expect(report.figures.relaysExpected).toBeGreaterThanOrEqual(12);
    await expectEventually(async () => expect((await ledger.deliveries()).filter((d) => d.status !== 'DELIVERED')).toEqual([]));
  }, 90_000);
});
