import { and, eq } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizers, liveApplicationEvents, liveApplications } from '../../src/db/tables.js';
import { type ApplicationChange, changeFeedKeys, parseChangeMessage } from '../../src/events/change-feed.js';
import { buildAuthXml, buildLiveApplyEventXml } from '../../src/wechat/wire/push-xml.js';
import { SimPusher } from '../../src/wechat/simulator/pusher.js';
import { SimState } from '../../src/wechat/simulator/state.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';
import { authUrl, eventsUrl, inboxRows, nowSeconds, post, signedPush, startWebhookServer, type WebhookServer } from './webhook-harness.js';

let env: TestEnv;
let server: WebhookServer;
let subscriber: Redis;
const changes: ApplicationChange[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  server = await startWebhookServer(env);
  subscriber = env.newRedis();
  await subscriber.psubscribe(changeFeedKeys(env.redisPrefix).channelPattern);
  subscriber.on('pmessage', (_pattern: string, _channel: string, message: string) => changes.push(parseChangeMessage(message)));
});

afterAll(async () => {
  await server?.close();
  await env?.cleanup();
});

async function applicationRow(tenantId: string, status: 'QUEUED' | 'SUBMITTED', appId: string) {
  const now = server.clock.now();
  const [row] = await env.database.db
    .insert(liveApplications)
    .values({
      tenantId,
      appId,
      status,
      ...(status === 'SUBMITTED' && { submittedAt: new Date(now - 60_000), expiresAt: new Date(now + 86_340_000), attempts: 1 }),
    })
    .returning();
  if (!row) throw new Error('no application row');
  return row;
}

async function application(id: string) {
  const [row] = await env.database.db.select().from(liveApplications).where(eq(liveApplications.id, id));
  return row;
}

async function history(id: string) {
  return env.database.db.select().from(liveApplicationEvents).where(eq(liveApplicationEvents.applicationId, id)).orderBy(liveApplicationEvents.id);
}

describe('wxa_live_apply_event', () => {
  it('opens the merchant’s SUBMITTED application end to end: HTTP, inbox, history, Redis publish', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 1);
    const appId = t.appIds[0] ?? '';
    const submitted = await applicationRow(t.tenant.id, 'SUBMITTED', appId);
    const openTime = String(Math.floor(server.clock.now() / 1000) - 5);
    const xml = buildLiveApplyEventXml({ toUserName: 'gh_merchant01', fromUserName: 'o_admin', createTime: nowSeconds(server.clock), appid: appId, openTime });
    const push = signedPush(t.input, xml, server.clock, { head: { toUserName: 'gh_merchant01' } });

    expect(await post(eventsUrl(server, t.tenant.id, appId), push)).toEqual({ status: 200, text: 'success' });
    expect(server.outcomes.at(-1)).toEqual(['accepted', 'wxa_live_apply_event']);

    await expectEventually(async () => expect((await application(submitted.id))?.status).toBe('OPENED'));
    expect((await application(submitted.id))?.openedAt?.getTime()).toBe(Number(openTime) * 1000);
    expect(await history(submitted.id)).toEqual([
      expect.objectContaining({ type: 'STATUS', status: 'OPENED', message: 'WeChat reported live broadcasting opened.' }),
    ]);
    const [merchant] = await env.database.db
      .select()
      .from(authorizers)
      .where(and(eq(authorizers.tenantId, t.tenant.id), eq(authorizers.appId, appId)));
    expect(merchant).toMatchObject({ liveOpen: true, liveOpenedAt: new Date(Number(openTime) * 1000) });
    await expectEventually(() =>
      expect(changes.find((c) => c.application.id === submitted.id)?.application).toMatchObject({ tenantId: t.tenant.id, appId, status: 'OPENED' }),
    );
    const [row] = await inboxRows(env.database, t.tenant.id);
    expect(row).toMatchObject({ kind: 'event', eventType: 'wxa_live_apply_event', appId, payload: xml, attempts: 1, lastError: null });
  });

  it('accepts the official page’s quirks: the ApplyLiveInfoNoitfy spelling and bare ![CDATA[...]] values', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 1);
    const appId = t.appIds[0] ?? '';
    const submitted = await applicationRow(t.tenant.id, 'SUBMITTED', appId);
    const createTime = nowSeconds(server.clock);
    const xml = buildLiveApplyEventXml(
      { toUserName: 'gh_q', fromUserName: 'o_q', createTime, appid: appId, openTime: createTime },
      { element: 'ApplyLiveInfoNoitfy', bareCdata: true },
    );
    expect(xml).toContain(`<appid>![CDATA[${appId}]]</appid>`);
    expect(await post(eventsUrl(server, t.tenant.id, appId), signedPush(t.input, xml, server.clock, { head: { toUserName: 'gh_q' } }))).toEqual({
      status: 200,
      text: 'success',
    });
    await expectEventually(async () => expect((await application(submitted.id))?.status).toBe('OPENED'));
  });

  it('trusts the signed inner appid over the URL’s app id, and falls back to CreateTime for an unreadable open_time', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 2);
    const [opened = '', other = ''] = t.appIds;
    const submitted = await applicationRow(t.tenant.id, 'SUBMITTED', opened);
    const otherApplication = await applicationRow(t.tenant.id, 'SUBMITTED', other);
    const createTime = String(Math.floor(server.clock.now() / 1000) - 30);
    const xml = buildLiveApplyEventXml({ toUserName: 'gh_x', fromUserName: 'o_x', createTime, appid: opened, openTime: 'Time for successful opening' });
    expect((await post(eventsUrl(server, t.tenant.id, other), signedPush(t.input, xml, server.clock, { head: { toUserName: 'gh_x' } }))).status).toBe(200);
    await expectEventually(async () => expect((await application(submitted.id))?.status).toBe('OPENED'));
    expect((await application(submitted.id))?.openedAt?.getTime()).toBe(Number(createTime) * 1000);
    expect((await application(otherApplication.id))?.status).toBe('SUBMITTED');
  });

  it('records an event naming no Mini Program app id as ignored, without opening anything', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const xml = buildLiveApplyEventXml({
      toUserName: 'gh_d',
      fromUserName: 'o_d',
      createTime: nowSeconds(server.clock),
      appid: 'Successfully opened appid',
      openTime: 'x',
    });
    expect((await post(eventsUrl(server, t.tenant.id, 'wx0123456789abcdef'), signedPush(t.input, xml, server.clock))).status).toBe(200);
    await server.webhooks.drain();
    const [row] = await inboxRows(env.database, t.tenant.id);
    expect(row?.processedAt).toBeInstanceOf(Date);
    expect(row?.lastError).toMatch(/^ignored: appid/);
    expect(await env.database.db.select().from(liveApplications).where(eq(liveApplications.tenantId, t.tenant.id))).toEqual([]);
  });

  it('is delivered as the WeChat simulator pushes it (message URL with $APPID$)', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 1);
    const appId = t.appIds[0] ?? '';
    const submitted = await applicationRow(t.tenant.id, 'SUBMITTED', appId);
    const state = new SimState(server.clock, { applyLiveDailyLimit: 100, tokenTtlSeconds: 7200, delaysMs: {} });
    const component = state.registerComponent({
      ...t.input,
      authUrl: authUrl(server, t.tenant.id),
      messageUrlTemplate: `${server.baseUrl}/webhooks/wechat/${t.tenant.id}/events/$APPID$`,
    });
    const pusher = new SimPusher(state);
    expect(await pusher.pushLiveEvent(component, state.addAuthorizer({ componentAppId: t.input.componentAppId, appId }))).toMatchObject({
      status: 200,
      body: 'success',
    });
    await expectEventually(async () => expect((await application(submitted.id))?.status).toBe('OPENED'));
    expect(await pusher.pushTicket(component)).toMatchObject({ status: 200, body: 'success' });
    await expectEventually(async () => expect(await server.services.credentials.getTicket(t.tenant.id)).toBe(component.ticket));
  });
});

describe('authorization events', () => {
  it('keeps each tenant’s component_verify_ticket apart', async () => {
    const a = await createTenantWithMerchants(env.database.db, env.box, 0);
    const b = await createTenantWithMerchants(env.database.db, env.box, 0);
    const createTime = nowSeconds(server.clock);
    for (const [t, ticket] of [
      [a, 'ticket@@@A'],
      [b, 'ticket@@@B'],
    ] as const) {
      const xml = buildAuthXml({ kind: 'component_verify_ticket', appId: t.input.componentAppId, createTime, ticket });
      expect(await post(authUrl(server, t.tenant.id), signedPush(t.input, xml, server.clock))).toEqual({ status: 200, text: 'success' });
    }
    await server.webhooks.drain();
    expect(await server.services.credentials.getTicket(a.tenant.id)).toBe('ticket@@@A');
    expect(await server.services.credentials.getTicket(b.tenant.id)).toBe('ticket@@@B');
    // Tenant A's keys on tenant B's URL: refused, B's ticket untouched.
    const forged = buildAuthXml({ kind: 'component_verify_ticket', appId: a.input.componentAppId, createTime, ticket: 'ticket@@@forged' });
    expect((await post(authUrl(server, b.tenant.id), signedPush(a.input, forged, server.clock))).status).toBe(401);
    expect(await server.services.credentials.getTicket(b.tenant.id)).toBe('ticket@@@B');
  });

  it('revokes the merchant on unauthorized and cancels its QUEUED application (and its job)', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 2);
    const [revoked = '', kept = ''] = t.appIds;
    const queued = await applicationRow(t.tenant.id, 'QUEUED', revoked);
    const keptQueued = await applicationRow(t.tenant.id, 'QUEUED', kept);
    const xml = buildAuthXml({ kind: 'unauthorized', appId: t.input.componentAppId, createTime: nowSeconds(server.clock), authorizerAppId: revoked });
    expect(await post(authUrl(server, t.tenant.id), signedPush(t.input, xml, server.clock))).toEqual({ status: 200, text: 'success' });
    await server.webhooks.drain();
    const merchants = await env.database.db.select().from(authorizers).where(eq(authorizers.tenantId, t.tenant.id));
    expect(Object.fromEntries(merchants.map((m) => [m.appId, m.status]))).toEqual({ [revoked]: 'REVOKED', [kept]: 'AUTHORIZED' });
    expect(await application(queued.id)).toMatchObject({ status: 'CANCELLED', errorCode: 'AUTHORIZER_REVOKED' });
    expect(await history(queued.id)).toEqual([expect.objectContaining({ type: 'STATUS', status: 'CANCELLED' })]);
    expect((await application(keptQueued.id))?.status).toBe('QUEUED');
    expect(server.queue.removed).toContain(queued.id);
    expect(server.queue.removed).not.toContain(keptQueued.id);
  });

  it('records a new merchant on authorized, with its refresh token sealed and its permission sets', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const appId = 'wx00112233445566ff';
    const xml = buildAuthXml({
      kind: 'authorized',
      appId: t.input.componentAppId,
      createTime: nowSeconds(server.clock),
      authorizerAppId: appId,
      authorizationCode: `queryauthcode:${appId}`,
      authorizationCodeExpiredTime: String(Math.floor(server.clock.now() / 1000) + 3600),
    });
    expect(await post(authUrl(server, t.tenant.id), signedPush(t.input, xml, server.clock))).toEqual({ status: 200, text: 'success' });
    await server.webhooks.drain();
    const [merchant] = await env.database.db.select().from(authorizers).where(eq(authorizers.tenantId, t.tenant.id));
    expect(merchant).toMatchObject({ appId, status: 'AUTHORIZED', permissionSets: [1, 52] });
    expect(merchant?.refreshTokenEnc).not.toContain('refresh-for');
    expect(env.box.open(merchant?.refreshTokenEnc ?? '')).toBe(`refresh-for-queryauthcode:${appId}`);
  });
});
