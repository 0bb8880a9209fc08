import { eq } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../../src/app/create-app.js';
import { webhookDeliveries, webhookEndpoints } from '../../../src/db/tables.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { RETRY_DELAYS_MS } from '../../../src/services/webhooks/delivery-schedule.js';
import { IN_FLIGHT_ERROR } from '../../../src/services/webhooks/delivery.store.js';
import { systemContext } from '../../../src/services/context.js';
import { createTenantWithMerchants } from '../../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../../support/test-env.js';
import { Receiver } from './support/receiver.js';

let env: TestEnv;
let app: App;
let receiver: Receiver;
const clock = new ManualClock(Date.now());

async function tenantWithEndpoint(path: string, merchants = 1) {
  const t = await createTenantWithMerchants(env.database.db, env.box, merchants);
  const created = await app.services.webhookEndpoints.create(t.ctx, { url: `${receiver.url}${path}`, kind: 'EVENTS' });
  return { ...t, endpointId: created.endpoint?.id as string, secret: created.secret as string };
}

/** One committed change and nothing else: an open event's OPENED record (an apply would also start a job calling WeChat). */
async function opened(t: { ctx: ReturnType<typeof systemContext>; appIds: string[] }, n: number) {
  await app.services.lifecycle.open(t.ctx, t.appIds[n] as string, new Date(clock.now()));
}

async function deliveriesOf(endpointId: string) {
  return env.database.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, endpointId));
}

/** The endpoint's first delivery once `attempts` attempts are recorded (an attempt is counted at its claim, its outcome comes after). */
async function afterAttempts(endpointId: string, attempts: number) {
  return expectEventually(async () => {
    const [row] = await deliveriesOf(endpointId);
    expect(row?.attempts).toBe(attempts);
    expect(row?.lastError).not.toBe(IN_FLIGHT_ERROR);
    return row;
  });
}

async function endpointRow(id: string) {
  const [row] = await env.database.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
  return row;
}

/** Moves the injected clock past the next attempt and lets the sweep enqueue what is due (instead of waiting in real time). */
async function advanceAndSweep(ms: number) {
  clock.advance(ms);
  await app.outbound.sweep();
}

beforeAll(async () => {
  env = await createTestEnv();
  receiver = await new Receiver().start();
  app = await createApp(
    env.config({ WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true', WECHAT_API_BASE: 'http://127.0.0.1:9', APPLY_BACKOFF_MS: '600000' }),
    {
      clock,
    },
  );
});

afterAll(async () => {
  // The receiver first: it ends the hanging requests, so the worker drains at once.
  await receiver?.stop();
  await app?.stop();
  await env?.cleanup();
});

describe('delivery faults', () => {
  it('retries a 500 on the schedule with the same webhook-id and body, recording each attempt', async () => {
    const a = await tenantWithEndpoint('/flaky');
    let calls = 0;
    receiver.on('/flaky', (_req, res) => {
      calls += 1;
      if (calls === 1) res.writeHead(500, { 'content-type': 'text/plain' }).end('database is down');
      else res.writeHead(204).end();
    });
    await opened(a, 0);
    const failed = await afterAttempts(a.endpointId, 1);
    expect(failed).toMatchObject({ status: 'PENDING', lastStatusCode: 500, lastResponse: 'database is down' });
    const wait = (failed?.nextAttemptAt?.getTime() ?? 0) - (failed?.lastAttemptAt?.getTime() ?? 0);
    expect(wait).toBeGreaterThanOrEqual(5_000);
    expect(wait).toBeLessThanOrEqual(5_500);
    // Not due yet: the sweep sends nothing.
    await advanceAndSweep(1_000);
    expect(receiver.at('/flaky')).toHaveLength(1);
    await advanceAndSweep(5_000);
    await expectEventually(async () => expect((await deliveriesOf(a.endpointId))[0]).toMatchObject({ status: 'DELIVERED', attempts: 2, lastStatusCode: 204 }));
    const [first, second] = receiver.at('/flaky');
    expect(second?.headers['webhook-id']).toBe(first?.headers['webhook-id']);
    expect(second?.body.equals(first?.body ?? Buffer.alloc(0))).toBe(true);
    expect(() => new Webhook(a.secret).verify(second?.body.toString() ?? '', second?.headers as Record<string, string>)).not.toThrow();
    expect((await endpointRow(a.endpointId))?.failingSince).toBeNull();

    // redeliverWebhook sends it once more, under the same webhook-id.
    const again = await app.outbound.deliveries.redeliver(a.ctx, (await deliveriesOf(a.endpointId))[0]?.id as string);
    expect(again.userErrors).toEqual([]);
    await expectEventually(async () => expect((await deliveriesOf(a.endpointId))[0]).toMatchObject({ status: 'DELIVERED', attempts: 3 }));
    expect(receiver.at('/flaky').map((r) => r.headers['webhook-id'])).toEqual([
      first?.headers['webhook-id'],
      first?.headers['webhook-id'],
      first?.headers['webhook-id'],
    ]);

    // Each attempt is counted by outcome, with its latency; PENDING deliveries by endpoint state.
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toMatch(/^wxlive_webhook_deliveries_total\{kind="EVENTS",outcome="retry"\} [1-9]/m);
    expect(metrics).toMatch(/^wxlive_webhook_deliveries_total\{kind="EVENTS",outcome="delivered"\} [2-9]/m);
    expect(metrics).toMatch(/^wxlive_webhook_delivery_seconds_count\{kind="EVENTS"\} [3-9]/m);
    expect(metrics).toMatch(/^wxlive_webhook_deliveries_pending\{endpoint_state="enabled"\} \d+/m);
  });

  it('waits for Retry-After on 429, and for the schedule after a connection closed mid-answer', async () => {
    const a = await tenantWithEndpoint('/busy');
    receiver.on('/busy', (_req, res) => res.writeHead(429, { 'retry-after': '120' }).end());
    const b = await tenantWithEndpoint('/cut');
    receiver.on('/cut', (_req, res) => {
      res.writeHead(200, { 'content-length': '50' });
      res.write('half');
      setImmediate(() => res.socket?.destroy());
    });
    await opened(a, 0);
    await opened(b, 0);
    const busy = await afterAttempts(a.endpointId, 1);
    expect(busy?.lastStatusCode).toBe(429);
    expect((busy?.nextAttemptAt?.getTime() ?? 0) - (busy?.lastAttemptAt?.getTime() ?? 0)).toBe(120_000);
    const cut = await afterAttempts(b.endpointId, 1);
    expect(cut).toMatchObject({ status: 'PENDING', lastStatusCode: null });
    expect(cut?.lastError).toMatch(/closed mid-answer after HTTP 200|broke off/);
  });

  it('disables an endpoint that answers 410 at once; its other deliveries are not sent', async () => {
    const a = await tenantWithEndpoint('/gone', 2);
    receiver.on('/gone', (_req, res) => res.writeHead(410).end('gone'));
    await opened(a, 0);
    await expectEventually(async () => expect((await endpointRow(a.endpointId))?.enabled).toBe(false));
    expect((await endpointRow(a.endpointId))?.disabledReason).toMatch(/answered 410 Gone/);
    expect((await deliveriesOf(a.endpointId))[0]).toMatchObject({ status: 'FAILED', attempts: 1, lastStatusCode: 410 });
    await opened(a, 1);
    // A disabled endpoint gets no new deliveries at all; a redelivery is refused until it is enabled again.
    const ids = (await deliveriesOf(a.endpointId)).map((d) => d.id);
    expect(ids).toHaveLength(1);
    const again = await app.outbound.deliveries.redeliver(systemContext(a.tenant.id), ids[0] as string);
    expect(again.userErrors.map((e) => e.code)).toEqual(['WEBHOOK_ENDPOINT_DISABLED']);
    expect(receiver.at('/gone')).toHaveLength(1);
  });

  it('disables an endpoint that failed every attempt for 5 days, with the reason', async () => {
    const a = await tenantWithEndpoint('/down', 2);
    receiver.on('/down', (_req, res) => res.writeHead(502).end('bad gateway'));
    await opened(a, 0);
    await afterAttempts(a.endpointId, 1);
    // Walk the schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 24 h, 24 h.
    for (let n = 2; n <= 9; n++) {
      await advanceAndSweep((RETRY_DELAYS_MS[n - 2] ?? 0) * 1.1 + 1_000);
      await afterAttempts(a.endpointId, n);
    }
    await advanceAndSweep((RETRY_DELAYS_MS[8] ?? 0) * 1.1 + 1_000);
    // One delivery's schedule (about three days) ends FAILED; the endpoint is not disabled for it.
    await expectEventually(async () => expect((await deliveriesOf(a.endpointId))[0]).toMatchObject({ status: 'FAILED', attempts: 10 }));
    expect((await endpointRow(a.endpointId))?.enabled).toBe(true);
    // Five days after its first failure, with nothing delivered since, the next failure disables it.
    clock.advance(2 * 86_400_000);
    await opened(a, 1);
    await expectEventually(async () => expect((await endpointRow(a.endpointId))?.enabled).toBe(false));
    expect((await endpointRow(a.endpointId))?.disabledReason).toMatch(/^Every delivery failed since .* \(5 days\); the last: HTTP 502\.$/);
  });

  it("keeps one tenant's hanging endpoint from delaying another tenant's deliveries", async () => {
    const slow = await tenantWithEndpoint('/hang', 12);
    receiver.hang('/hang');
    const fast = await tenantWithEndpoint('/fast');
    for (let n = 0; n < slow.appIds.length; n++) await opened(slow, n);
    await expectEventually(() => expect(receiver.at('/hang').length).toBeGreaterThanOrEqual(4));
    const started = Date.now();
    await opened(fast, 0);
    await expectEventually(() => expect(receiver.at('/fast')).toHaveLength(1));
    const latency = Date.now() - started;
    // The hanging endpoint holds at most its 4 slots of the worker's 50; the other tenant's delivery goes straight through.
    expect(receiver.at('/hang')).toHaveLength(4);
    expect(latency).toBeLessThan(1_000);
  });
});
