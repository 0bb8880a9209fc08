import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/app/create-app.js';
import { liveApplications, webhookDeliveries, webhookInbox } from '../../src/db/tables.js';
import { ManualClock } from '../../src/lib/clock.js';
import { IN_FLIGHT_ERROR } from '../../src/services/webhooks/delivery.store.js';
import { InboxRetention } from '../../src/webhooks/inbox-retention.js';
import { buildAuthXml } from '../../src/wechat/wire/push-xml.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';
import { nowSeconds, signedPush } from './webhook-harness.js';
import { Receiver } from './outbound/support/receiver.js';

const DAY = 86_400_000;
let env: TestEnv;
let app: App;
let receiver: Receiver;
const clock = new ManualClock(Date.now());
let serial = 5000;

type Tenant = Awaited<ReturnType<typeof createTenantWithMerchants>>;

beforeAll(async () => {
  env = await createTestEnv();
  receiver = await new Receiver().start();
  app = await createApp(
    env.config({
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true',
      WECHAT_API_BASE: 'http://127.0.0.1:9',
      INBOX_RETENTION_DAYS: '7',
      WEBHOOK_DELIVERY_RETENTION_DAYS: '7',
      // The worker's own runs stay out of the way; each test runs retention when it means to.
      JOBS_RETENTION_INTERVAL_MS: String(60 * 60_000),
    }),
    { clock },
  );
});

afterAll(async () => {
  await app?.stop();
  await receiver?.stop();
  await env?.cleanup();
});

function retention(): InboxRetention {
  const jobs = app.jobs;
  if (!jobs) throw new Error('the app runs no worker');
  return jobs.retention;
}

async function relayTo(t: Tenant, url: string, events: string[]): Promise<string> {
  const created = await app.services.webhookEndpoints.create(t.ctx, { url, kind: 'RELAY', events });
  expect(created.userErrors).toEqual([]);
  return created.endpoint?.id as string;
}

function textXml(appId: string): string {
  serial += 1;
  return `<xml><ToUserName><![CDATA[gh_${appId.slice(2, 12)}]]></ToUserName><FromUserName><![CDATA[o_user_${serial}]]></FromUserName><CreateTime>${nowSeconds(clock)}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[my phone is 13800000000]]></Content><MsgId>${serial}</MsgId></xml>`;
}

async function postText(t: Tenant): Promise<{ status: number; query: string; body: string }> {
  const appId = t.appIds[0] as string;
  const signed = signedPush(t.input, textXml(appId), clock, { head: { toUserName: `gh_${appId.slice(2, 12)}` } });
  return send(`/webhooks/wechat/${t.tenant.id}/events/${appId}`, signed.query.toString(), signed.body);
}

async function postTicket(t: Tenant): Promise<{ status: number; query: string; body: string }> {
  const xml = buildAuthXml({
    kind: 'component_verify_ticket',
    appId: t.input.componentAppId,
    createTime: nowSeconds(clock),
    ticket: `ticket@@@${randomUUID()}`,
  });
  const signed = signedPush(t.input, xml, clock);
  return send(`/webhooks/wechat/${t.tenant.id}/auth`, signed.query.toString(), signed.body);
}

async function send(path: string, query: string, body: string): Promise<{ status: number; query: string; body: string }> {
  const res = await fetch(`${app.url}${path}?${query}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body });
  await res.text();
  return { status: res.status, query, body };
}

async function inbox(tenantId: string) {
  return env.database.db.select().from(webhookInbox).where(eq(webhookInbox.tenantId, tenantId)).orderBy(webhookInbox.id);
}

async function deliveriesOf(tenantId: string) {
  return env.database.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.tenantId, tenantId)).orderBy(webhookDeliveries.createdAt);
}

describe('inbox retention and data minimisation', () => {
  it('keeps a push nobody here acts on only as its encrypted envelope, dropped once it was relayed', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 1);
    await relayTo(t, `${receiver.url}/cs/text`, ['text']);
    const sent = await postText(t);
    expect(sent.status).toBe(200);
    const [row] = await inbox(t.tenant.id);
    // Stored processed, without its plaintext (the customer's message), with the envelope as WeChat sent it.
    expect(row).toMatchObject({ eventType: 'text', payload: null, rawQuery: sent.query });
    expect(row?.processedAt).not.toBeNull();
    expect(row?.rawBody?.toString('utf8')).toBe(sent.body);
    await expectEventually(async () => expect((await deliveriesOf(t.tenant.id)).map((d) => d.status)).toEqual(['DELIVERED']));
    expect(receiver.at('/cs/text').map((r) => r.body.toString('utf8'))).toEqual([sent.body]);

    const report = await retention().runOnce();
    expect(report.envelopesDropped).toBeGreaterThanOrEqual(1);
    expect((await inbox(t.tenant.id)).map((r) => [r.payload, r.rawBody, r.rawQuery])).toEqual([[null, null, null]]);
    // Nothing left to send again: the redelivery says so instead of sending an empty body.
    const [delivery] = await deliveriesOf(t.tenant.id);
    const again = await app.outbound.deliveries.redeliver(t.ctx, delivery?.id as string);
    expect(again.userErrors.map((e) => e.code)).toEqual(['NOT_FOUND']);
    expect(again.userErrors[0]?.message).toContain('dropped once relayed');
  });

  it('drops the envelope at once when no relay endpoint wants the push', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 1);
    expect((await postText(t)).status).toBe(200);
    await retention().runOnce();
    expect((await inbox(t.tenant.id)).map((r) => [r.eventType, r.payload, r.rawBody])).toEqual([['text', null, null]]);
  });

  it('deletes processed pushes after INBOX_RETENTION_DAYS, never one whose relay delivery is pending or one not processed', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 1);
    // Nothing listens there: the delivery stays PENDING, retrying.
    await relayTo(t, 'http://127.0.0.1:9/down', ['text']);
    const ticket = await postTicket(t);
    expect(ticket.status).toBe(200);
    expect((await postText(t)).status).toBe(200);
    await expectEventually(async () => expect((await inbox(t.tenant.id)).every((r) => r.processedAt !== null)).toBe(true));
    // Its first attempt failed; the next is put far off, so no retry (on the moved clock) ends it while the test looks.
    await expectEventually(async () =>
      expect((await deliveriesOf(t.tenant.id)).map((d) => [d.attempts, d.lastError === IN_FLIGHT_ERROR])).toEqual([[1, false]]),
    );
    await env.database.db
      .update(webhookDeliveries)
      .set({ nextAttemptAt: new Date(clock.now() + 365 * DAY) })
      .where(eq(webhookDeliveries.tenantId, t.tenant.id));
    // A push whose processing never succeeded stays too (with its last error, for support).
    const stuck = await app.webhooks?.inbox.insert(
      {
        tenantId: t.tenant.id,
        kind: 'auth',
        appId: null,
        eventType: 'authorized',
        dedupKey: `stuck:${randomUUID()}`,
        payload: '<xml/>',
        rawQuery: null,
        rawBody: null,
        contentType: null,
        receivedAt: new Date(clock.now()),
      },
      'unclaimed',
    );
    const applicationsBefore = await env.database.db.select().from(liveApplications).where(eq(liveApplications.tenantId, t.tenant.id));

    clock.advance(7 * DAY - 60_000);
    await retention().runOnce();
    expect((await inbox(t.tenant.id)).map((r) => r.eventType)).toEqual(['component_verify_ticket', 'text', 'authorized']);

    clock.advance(2 * 60_000);
    await retention().runOnce();
    expect((await inbox(t.tenant.id)).map((r) => r.eventType)).toEqual(['text', 'authorized']);
    expect((await inbox(t.tenant.id)).map((r) => r.id)).toContain(stuck?.id);
    expect((await deliveriesOf(t.tenant.id)).map((d) => d.status)).toEqual(['PENDING']);

    // The delivery gives up: now the push goes, its delivery with it.
    await env.database.db
      .update(webhookDeliveries)
      .set({ status: 'FAILED', nextAttemptAt: null })
      .where(and(eq(webhookDeliveries.tenantId, t.tenant.id), eq(webhookDeliveries.status, 'PENDING')));
    await retention().runOnce();
    expect((await inbox(t.tenant.id)).map((r) => r.eventType)).toEqual(['authorized']);
    expect(await deliveriesOf(t.tenant.id)).toEqual([]);
    // Applications and their history are the audit trail: untouched.
    expect(await env.database.db.select().from(liveApplications).where(eq(liveApplications.tenantId, t.tenant.id))).toEqual(applicationsBefore);

    // WeChat replaying the deleted push is refused by the replay window, not stored again.
    const replay = await send(`/webhooks/wechat/${t.tenant.id}/auth`, ticket.query, ticket.body);
    expect(replay.status).toBe(401);
    expect((await inbox(t.tenant.id)).map((r) => r.eventType)).toEqual(['authorized']);
  });

  it('deletes finished deliveries after WEBHOOK_DELIVERY_RETENTION_DAYS and keeps pending ones', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const endpointId = await relayTo(t, `${receiver.url}/erp`, ['*']);
    const at = (days: number) => new Date(clock.now() - days * DAY);
    const row = (status: 'PENDING' | 'DELIVERED' | 'FAILED', createdAt: Date) => ({
      tenantId: t.tenant.id,
      endpointId,
      eventType: 'application.updated',
      source: `outbox:${randomUUID()}`,
      payload: '{}',
      status,
      createdAt,
      nextAttemptAt: status === 'PENDING' ? new Date(clock.now() + DAY) : null,
    });
    await env.database.db.insert(webhookDeliveries).values([row('DELIVERED', at(8)), row('FAILED', at(8)), row('PENDING', at(8)), row('DELIVERED', at(6))]);
    const report = await retention().runOnce();
    expect(report.deliveriesDeleted).toBeGreaterThanOrEqual(2);
    expect((await deliveriesOf(t.tenant.id)).map((d) => [d.status, d.createdAt.getTime()])).toEqual([
      ['PENDING', at(8).getTime()],
      ['DELIVERED', at(6).getTime()],
    ]);
  });

  it('bounds one run (batches times batch size) and finishes on the next runs', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const old = new Date(clock.now() - 30 * DAY);
    await env.database.db.insert(webhookInbox).values(
      Array.from({ length: 5 }, (_, i) => ({
        tenantId: t.tenant.id,
        kind: 'auth' as const,
        eventType: 'component_verify_ticket',
        dedupKey: `old:${i}:${randomUUID()}`,
        payload: '<xml/>',
        receivedAt: old,
        processedAt: old,
      })),
    );
    const small = new InboxRetention(env.appDatabase.db, clock, { inboxRetentionMs: 7 * DAY, deliveryRetentionMs: 7 * DAY, batchSize: 2, maxBatches: 1 });
    const count = async () =>
      (await env.database.db.select({ n: sql<number>`count(*)::int` }).from(webhookInbox).where(eq(webhookInbox.tenantId, t.tenant.id)))[0]?.n;
    const first = await small.runOnce();
    expect(first).toMatchObject({ inboxDeleted: 2, complete: false });
    expect(await count()).toBe(3);
    await small.runOnce();
    const last = await small.runOnce();
    expect(last).toMatchObject({ inboxDeleted: 1, complete: true });
    expect(await count()).toBe(0);

    // Within one run the batches walk received_at as a keyset: rows sharing the last batch's timestamp are not skipped.
    await env.database.db.insert(webhookInbox).values(
      Array.from({ length: 5 }, (_, i) => ({
        tenantId: t.tenant.id,
        kind: 'auth' as const,
        eventType: 'component_verify_ticket',
        dedupKey: `same:${i}:${randomUUID()}`,
        payload: '<xml/>',
        receivedAt: old,
        processedAt: old,
      })),
    );
    const batches: number[] = [];
    const wide = new InboxRetention(env.appDatabase.db, clock, {
      inboxRetentionMs: 7 * DAY,
      deliveryRetentionMs: 7 * DAY,
      batchSize: 2,
      maxBatches: 10,
      onBatch: (rows) => batches.push(rows),
    });
    expect(await wide.runOnce()).toMatchObject({ inboxDeleted: 5, complete: true });
    expect(await count()).toBe(0);
    expect(batches).toContain(2);
  });
});
