import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/app/create-app.js';
import { DayPartitions } from '../../src/db/day-partitions.js';
import { liveApplications, liveEvents, webhookDeliveries, webhookInbox } from '../../src/db/tables.js';
import { ManualClock, utcDay } from '../../src/lib/clock.js';
import { IN_FLIGHT_ERROR } from '../../src/services/webhooks/delivery.store.js';
import { InboxRetention } from '../../src/webhooks/inbox-retention.js';
import { buildAuthXml } from '../../src/wechat/wire/push-xml.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';
import { Receiver } from './outbound/support/receiver.js';
import { nowSeconds, signedPush } from './webhook-harness.js';

const DAY = 86_400_000;

type DeliveryStatus = 'PENDING' | 'DELIVERED' | 'FAILED';

/** An application.updated delivery made at `createdAt` (in its day's partition); a PENDING one is due a day from now. */
function deliveryRow(tenantId: string, endpointId: string, status: DeliveryStatus, createdAt: Date) {
  return {
    tenantId,
    endpointId,
    eventType: 'application.updated',
    source: `outbox:${randomUUID()}`,
    payload: '{}',
    status,
    createdAt,
    createdOn: utcDay(createdAt.getTime()),
    nextAttemptAt: status === 'PENDING' ? new Date(clock.now() + DAY) : null,
  };
}
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

/** Midnight (UTC) of the day `daysAgo` days before the test clock's. */
const dayStart = (daysAgo: number) => Date.parse(`${utcDay(clock.now() - daysAgo * DAY)}T00:00:00Z`);
const partitionOf = (table: string, daysAgo: number) => `${table}_p${utcDay(dayStart(daysAgo)).replaceAll('-', '')}`;

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
        pushedOn: utcDay(new Date(clock.now()).getTime()),
        receivedAt: new Date(clock.now()),
      },
      'unclaimed',
    );
    const applicationsBefore = await env.database.db.select().from(liveApplications).where(eq(liveApplications.tenantId, t.tenant.id));

    // A push is kept for INBOX_RETENTION_DAYS after the end of its day (days go whole).
    const dayEnds = Date.parse(`${utcDay(clock.now())}T00:00:00Z`) + DAY;
    clock.set(dayEnds + 7 * DAY - 60_000);
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
    const row = (status: DeliveryStatus, createdAt: Date) => deliveryRow(t.tenant.id, endpointId, status, createdAt);
    await env.database.db.insert(webhookDeliveries).values([row('DELIVERED', at(8)), row('FAILED', at(8)), row('PENDING', at(8)), row('DELIVERED', at(6))]);
    const report = await retention().runOnce();
    expect(report.deliveriesDeleted).toBeGreaterThanOrEqual(2);
    expect((await deliveriesOf(t.tenant.id)).map((d) => [d.status, d.createdAt.getTime()])).toEqual([
      ['PENDING', at(8).getTime()],
      ['DELIVERED', at(6).getTime()],
    ]);
  });

  it('deletes room and goods events (the liveRoomUpdated feed) after LIVE_EVENT_RETENTION_DAYS, the newer ones kept in order', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 1);
    const appId = t.appIds[0] as string;
    const event = (days: number, subjectId: number) => ({
      tenantId: t.tenant.id,
      appId,
      type: 'live_room.updated',
      subjectId,
      data: { roomId: subjectId },
      createdAt: new Date(clock.now() - days * DAY),
    });
    await env.database.db.insert(liveEvents).values([event(9, 1), event(8, 2), event(6, 3), event(0, 4)]);
    const report = await retention().runOnce();
    expect(report.liveEventsDeleted).toBeGreaterThanOrEqual(2);
    const kept = await env.database.db
      .select({ subjectId: liveEvents.subjectId })
      .from(liveEvents)
      .where(eq(liveEvents.tenantId, t.tenant.id))
      .orderBy(liveEvents.id);
    expect(kept.map((e) => e.subjectId)).toEqual([3, 4]);
  });

  it('bounds one run (batches times batch size) and finishes on the next runs', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const old = new Date(clock.now() - 30 * DAY);
    // Processed pushes received 30 days ago (a day with no partition: the default one's, row by row).
    const storeProcessed = (prefix: string, n: number) =>
      env.database.db.insert(webhookInbox).values(
        Array.from({ length: n }, (_, i) => ({
          tenantId: t.tenant.id,
          kind: 'auth' as const,
          eventType: 'component_verify_ticket',
          dedupKey: `${prefix}:${i}:${randomUUID()}`,
          payload: '<xml/>',
          pushedOn: utcDay(old.getTime()),
          receivedAt: old,
          processedAt: old,
        })),
      );
    await storeProcessed('old', 5);
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
    await storeProcessed('same', 5);
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

    // Shutting down stops a run between statements: the backlog waits for the next run.
    await storeProcessed('stop', 3);
    const stopping = new AbortController();
    stopping.abort();
    expect(await wide.runOnce(stopping.signal)).toMatchObject({ inboxDeleted: 0, complete: false });
    expect(await count()).toBe(3);
    expect(await wide.runOnce()).toMatchObject({ inboxDeleted: 3, complete: true });
  });
  it('drops a whole day past the retention at once; keeps a day with a push still needed until it is not; the default partition goes row by row', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const endpointId = await relayTo(t, `${receiver.url}/days`, ['*']);
    const partitions = new DayPartitions(env.appDatabase.db, 'webhook_inbox');
    // Two past days with partitions of their own (yesterday's and later ones the job makes).
    expect(await partitions.ensureDays(dayStart(41), dayStart(40))).toBe(2);
    const name = (daysAgo: number) => partitionOf('webhook_inbox', daysAgo);
    expect(await partitions.list()).toEqual(expect.arrayContaining([name(41), name(40), 'webhook_inbox_default']));
    const push = (daysAgo: number, processed: boolean, serial: number) => {
      const at = new Date(dayStart(daysAgo) + 3_600_000 + serial);
      return {
        tenantId: t.tenant.id,
        pushedOn: utcDay(at.getTime()),
        kind: 'auth' as const,
        eventType: 'component_verify_ticket',
        dedupKey: `day:${daysAgo}:${serial}:${randomUUID()}`,
        payload: '<xml/>',
        receivedAt: at,
        processedAt: processed ? at : null,
      };
    };
    // Day 41: three processed pushes, one relayed (its delivery finished). Day 40: one processed,
    // one never processed. 50 days ago: no partition, so the default one.
    const rows = await env.database.db
      .insert(webhookInbox)
      .values([push(41, true, 1), push(41, true, 2), push(41, true, 3), push(40, true, 4), push(40, false, 5), push(50, true, 6)])
      .returning({ id: webhookInbox.id, pushedOn: webhookInbox.pushedOn });
    const relayed = rows[0];
    await env.database.db.insert(webhookDeliveries).values({
      tenantId: t.tenant.id,
      endpointId,
      eventType: 'component_verify_ticket',
      source: `inbox:${relayed?.id}`,
      inboxId: relayed?.id,
      inboxPushedOn: relayed?.pushedOn,
      status: 'DELIVERED',
      createdAt: new Date(dayStart(41)),
      createdOn: utcDay(dayStart(41)),
    });
    const where = (db: typeof env.database.db) =>
      db.select({ pushedOn: webhookInbox.pushedOn, processed: sql<boolean>`${webhookInbox.processedAt} is not null` }).from(webhookInbox);
    const kept = async () => (await where(env.database.db).where(eq(webhookInbox.tenantId, t.tenant.id))).map((r) => [r.pushedOn, r.processed]);

    const first = await retention().runOnce();
    expect(first.partitionsDropped).toBeGreaterThanOrEqual(1);
    const left = await partitions.list();
    expect(left).not.toContain(name(41));
    // Day 40 stays for its unprocessed push; its processed one and the default partition's go row by row.
    expect(left).toContain(name(40));
    expect(await kept()).toEqual([[utcDay(dayStart(40)), false]]);
    // The relayed push's delivery went with its day.
    expect((await deliveriesOf(t.tenant.id)).map((d) => d.inboxId)).not.toContain(relayed?.id);

    // Processed at last: the day goes whole on the next run.
    await env.database.db
      .update(webhookInbox)
      .set({ processedAt: new Date(clock.now()) })
      .where(eq(webhookInbox.tenantId, t.tenant.id));
    const second = await retention().runOnce();
    expect(second.partitionsDropped).toBeGreaterThanOrEqual(1);
    expect(await partitions.list()).not.toContain(name(40));
    expect(await kept()).toEqual([]);
  });

  it('drops a whole day of the delivery log past its retention; a day with a PENDING delivery stays, its finished ones go row by row', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const endpointId = await relayTo(t, `${receiver.url}/log-days`, ['*']);
    const days = new DayPartitions(env.appDatabase.db, 'webhook_deliveries');
    expect(await days.ensureDays(dayStart(31), dayStart(30))).toBe(2);
    const name = (daysAgo: number) => partitionOf('webhook_deliveries', daysAgo);
    const row = (daysAgo: number, status: DeliveryStatus) => deliveryRow(t.tenant.id, endpointId, status, new Date(dayStart(daysAgo) + 7_200_000));
    await env.database.db.insert(webhookDeliveries).values([row(31, 'DELIVERED'), row(31, 'FAILED'), row(30, 'DELIVERED'), row(30, 'PENDING')]);
    const report = await retention().runOnce();
    expect(report.partitionsDropped).toBeGreaterThanOrEqual(1);
    const left = await days.list();
    expect(left).not.toContain(name(31));
    expect(left).toContain(name(30));
    expect((await deliveriesOf(t.tenant.id)).map((d) => [d.createdOn, d.status])).toEqual([[utcDay(dayStart(30)), 'PENDING']]);
  });

  it('makes the partitions of the days ahead, and none over pushes already in the default partition', async () => {
    const partitions = new DayPartitions(env.appDatabase.db, 'webhook_inbox');
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const ahead = clock.now() + 20 * DAY;
    const aheadDay = utcDay(ahead);
    // A push stamped on a day with no partition yet lands in the default partition...
    const stored = await app.webhooks?.inbox.insert(
      {
        tenantId: t.tenant.id,
        kind: 'auth',
        appId: null,
        eventType: 'authorized',
        dedupKey: `ahead:${randomUUID()}`,
        payload: '<xml/>',
        rawQuery: null,
        rawBody: null,
        contentType: null,
        pushedOn: aheadDay,
        receivedAt: new Date(clock.now()),
      },
      'processed',
    );
    expect(stored?.id).toBeGreaterThan(0);
    // ...so that day is skipped (a partition cannot be made over rows of the default one); the next day is made.
    expect(await partitions.ensureDays(ahead, ahead + DAY)).toBe(1);
    const names = await partitions.list();
    expect(names).toContain(`webhook_inbox_p${utcDay(ahead + DAY).replaceAll('-', '')}`);
    expect(names).not.toContain(`webhook_inbox_p${aheadDay.replaceAll('-', '')}`);
    // Run again (several workers do): nothing more to make.
    expect(await partitions.ensureDays(ahead, ahead + DAY)).toBe(0);
  });

  it('joins a redelivery received after midnight to the push it repeats (the partition is the day of its CreateTime)', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const midnight = Date.parse(`${utcDay(clock.now() + DAY)}T00:00:00Z`);
    await new DayPartitions(env.appDatabase.db, 'webhook_inbox').ensureDays(midnight - DAY, midnight);
    clock.set(midnight - 2_000);
    const xml = buildAuthXml({
      kind: 'component_verify_ticket',
      appId: t.input.componentAppId,
      createTime: nowSeconds(clock),
      ticket: `ticket@@@${randomUUID()}`,
    });
    const first = signedPush(t.input, xml, clock);
    expect((await send(`/webhooks/wechat/${t.tenant.id}/auth`, first.query.toString(), first.body)).status).toBe(200);
    // WeChat's retry: the same push, signed again (new timestamp and nonce) after midnight.
    clock.set(midnight + 3_000);
    const retry = signedPush(t.input, xml, clock);
    expect((await send(`/webhooks/wechat/${t.tenant.id}/auth`, retry.query.toString(), retry.body)).status).toBe(200);
    const rows = await inbox(t.tenant.id);
    expect(rows.map((r) => [r.eventType, r.pushedOn])).toEqual([['component_verify_ticket', utcDay(midnight - DAY)]]);
  });
});
