import { eq } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgres, type Database } from '../../src/db/client.js';
import { authorizers, webhookInbox } from '../../src/db/tables.js';
import { utcDay } from '../../src/lib/clock.js';
import { buildAuthXml } from '../../src/wechat/wire/push-xml.js';
import { createTenantWithMerchants, randomAppId } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';
import {
  authUrl,
  eventsUrl,
  fakeExchange,
  inboxCount,
  inboxRows,
  nowSeconds,
  post,
  postWithOutcome,
  signedPush,
  startWebhookServer,
  type WebhookServer,
} from './webhook-harness.js';

let env: TestEnv;
let server: WebhookServer;
let deadDatabase: Database;

beforeAll(async () => {
  env = await createTestEnv();
  server = await startWebhookServer(env);
  // Nothing listens on port 1: every query fails to connect, as with Postgres down.
  deadDatabase = connectPostgres('postgres://postgres@127.0.0.1:1/none', { max: 1 });
});

afterAll(async () => {
  await server?.close();
  await deadDatabase?.close();
  await env?.cleanup();
});

function ticketXml(componentAppId: string, ticket: string, clock = server.clock): string {
  return buildAuthXml({ kind: 'component_verify_ticket', appId: componentAppId, createTime: nowSeconds(clock), ticket });
}

describe('duplicate delivery', () => {
  it('stores and processes a push once when WeChat delivers it again with a fresh nonce', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const appId = randomAppId();
    const xml = buildAuthXml({ kind: 'unauthorized', appId: t.input.componentAppId, createTime: nowSeconds(server.clock), authorizerAppId: appId });
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await postWithOutcome(authUrl(server, t.tenant.id), signedPush(t.input, xml, server.clock)));
    // WeChat reads `success`; the header tells a relay or a test which of them was stored.
    expect(answers).toEqual([
      { status: 200, text: 'success', outcome: 'accepted' },
      { status: 200, text: 'success', outcome: 'duplicate' },
      { status: 200, text: 'success', outcome: 'duplicate' },
    ]);
    expect(server.outcomes.slice(-3)).toEqual([
      ['accepted', 'unauthorized'],
      ['duplicate', 'unauthorized'],
      ['duplicate', 'unauthorized'],
    ]);
    await server.webhooks.drain();
    const rows = await inboxRows(env.database, t.tenant.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ kind: 'auth', eventType: 'unauthorized', appId, attempts: 1, lastError: null });
    expect(rows[0]?.processedAt).toBeInstanceOf(Date);
  });

  it('stores an unknown event as its envelope only (not decrypted), marks it processed and acknowledges it', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const appId = randomAppId();
    const xml = `<xml><ToUserName><![CDATA[gh_abc]]></ToUserName><FromUserName><![CDATA[o_user]]></FromUserName><CreateTime>${nowSeconds(server.clock)}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[weapp_audit_success]]></Event><SuccTime>1</SuccTime></xml>`;
    const push = signedPush(t.input, xml, server.clock, { head: { toUserName: 'gh_abc' } });
    expect(await post(eventsUrl(server, t.tenant.id, appId), push)).toEqual({ status: 200, text: 'success' });
    expect(server.outcomes.at(-1)).toEqual(['accepted', 'unknown']);
    const [row] = await inboxRows(env.database, t.tenant.id);
    expect(row).toMatchObject({ kind: 'event', eventType: 'weapp_audit_success', appId, payload: null, attempts: 0 });
    expect(row?.rawBody?.toString('utf8')).toBe(push.body);
    expect(row?.processedAt).toBeInstanceOf(Date);
  });
});

describe('Postgres unavailable', () => {
  it('answers 503, acknowledges nothing, and lets WeChat’s retry of the same request be stored', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const broken = await startWebhookServer(env, { inboxDatabase: deadDatabase, clock: server.clock });
    try {
      const push = signedPush(t.input, ticketXml(t.input.componentAppId, 'ticket-while-down'), server.clock);
      expect(await post(authUrl(broken, t.tenant.id), push)).toEqual({ status: 503, text: 'STORE_UNAVAILABLE' });
      expect(broken.outcomes).toEqual([['unavailable', 'STORE_UNAVAILABLE']]);
      expect(await inboxCount(env.database, t.tenant.id)).toBe(0);
      expect(await env.redis.keys(`${env.redisPrefix}:{t:${t.tenant.id}}:webhook:seen:*`)).toEqual([]);
      // Same query string and body, as WeChat retries: the replay mark was released, so it is stored.
      expect(await post(authUrl(server, t.tenant.id), push)).toEqual({ status: 200, text: 'success' });
      expect(server.outcomes.at(-1)).toEqual(['accepted', 'component_verify_ticket']);
      await server.webhooks.drain();
      expect(await server.services.credentials.getTicket(t.tenant.id)).toBe('ticket-while-down');
    } finally {
      await broken.close();
    }
  });

  it('answers 503 when the tenant cannot be looked up', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const down = await startWebhookServer(env, { servicesDatabase: deadDatabase, inboxDatabase: deadDatabase, clock: server.clock });
    try {
      const push = signedPush(t.input, ticketXml(t.input.componentAppId, 'x'), server.clock);
      expect(await post(authUrl(down, t.tenant.id), push)).toEqual({ status: 503, text: 'STORE_UNAVAILABLE' });
      expect(down.outcomes).toEqual([['unavailable', 'STORE_UNAVAILABLE']]);
    } finally {
      await down.close();
    }
  });
});

describe('Redis unavailable', () => {
  it('still stores and acknowledges pushes, and the inbox still keeps a redelivery to one row', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const deadRedis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    deadRedis.on('error', () => {});
    const noRedis = await startWebhookServer(env, { redis: deadRedis, clock: server.clock });
    try {
      const push = signedPush(t.input, ticketXml(t.input.componentAppId, 'ticket-without-redis'), server.clock);
      expect(await post(authUrl(noRedis, t.tenant.id), push)).toEqual({ status: 200, text: 'success' });
      expect(await post(authUrl(noRedis, t.tenant.id), push)).toEqual({ status: 200, text: 'success' });
      expect(noRedis.outcomes).toEqual([
        ['accepted', 'component_verify_ticket'],
        ['duplicate', 'component_verify_ticket'],
      ]);
      await noRedis.webhooks.drain();
      expect(await server.services.credentials.getTicket(t.tenant.id)).toBe('ticket-without-redis');
    } finally {
      await noRedis.close();
      deadRedis.disconnect();
    }
  });
});

describe('recovery sweep', () => {
  it('retries a push whose processing failed, after its backoff, and records both attempts', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    let calls = 0;
    const flaky = await startWebhookServer(env, {
      exchangeAuthorizationCode: async (tenantId, code) => {
        calls++;
        if (calls === 1) throw new Error('WeChat unreachable');
        return fakeExchange(tenantId, code);
      },
    });
    try {
      const appId = randomAppId();
      const xml = buildAuthXml({
        kind: 'authorized',
        appId: t.input.componentAppId,
        createTime: nowSeconds(flaky.clock),
        authorizerAppId: appId,
        authorizationCode: `code:${appId}`,
      });
      expect(await post(authUrl(flaky, t.tenant.id), signedPush(t.input, xml, flaky.clock))).toEqual({ status: 200, text: 'success' });
      await flaky.webhooks.drain();
      const [failed] = await inboxRows(env.database, t.tenant.id);
      expect(failed).toMatchObject({ attempts: 1, processedAt: null, lastError: 'Error: WeChat unreachable' });

      expect(await flaky.webhooks.sweeper.sweepInbox()).toMatchObject({ due: 0 });
      flaky.clock.advance(30_000);
      expect(await flaky.webhooks.sweeper.sweepInbox()).toEqual({ due: 1, skipped: 0, outcomes: { processed: 1, ignored: 0, failed: 0, gave_up: 0 } });
      const [done] = await inboxRows(env.database, t.tenant.id);
      expect(done).toMatchObject({ attempts: 2, lastError: null });
      expect(done?.processedAt).toBeInstanceOf(Date);
      const [authorizer] = await env.database.db.select().from(authorizers).where(eq(authorizers.tenantId, t.tenant.id));
      expect(authorizer).toMatchObject({ appId, status: 'AUTHORIZED', permissionSets: [1, 52] });
      expect(env.box.open(authorizer?.refreshTokenEnc ?? '')).toBe(`refresh-for-code:${appId}`);
    } finally {
      await flaky.close();
    }
  });

  it('processes a row left unprocessed in the inbox (a crash between the answer and the effect)', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const xml = ticketXml(t.input.componentAppId, 'ticket-from-inbox');
    await env.database.db.insert(webhookInbox).values({
      tenantId: t.tenant.id,
      kind: 'auth',
      appId: null,
      eventType: 'component_verify_ticket',
      dedupKey: `auth:component_verify_ticket:${nowSeconds(server.clock)}:${t.input.componentAppId}`,
      payload: xml,
      pushedOn: utcDay(new Date(server.clock.now()).getTime()),
      receivedAt: new Date(server.clock.now()),
    });
    const result = await server.webhooks.sweeper.sweepInbox();
    expect(result.outcomes.processed).toBeGreaterThanOrEqual(1);
    expect(await server.services.credentials.getTicket(t.tenant.id)).toBe('ticket-from-inbox');
    const [row] = await inboxRows(env.database, t.tenant.id);
    expect(row).toMatchObject({ attempts: 1, lastError: null });
  });

  it('does not let a retried older ticket overwrite a newer one saved since', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const now = server.clock.now();
    await server.services.credentials.saveTicket(t.tenant.id, 'ticket-newer');
    await env.database.db.insert(webhookInbox).values([
      {
        tenantId: t.tenant.id,
        kind: 'auth',
        appId: null,
        eventType: 'component_verify_ticket',
        dedupKey: 'newer',
        payload: ticketXml(t.input.componentAppId, 'ticket-newer'),
        pushedOn: utcDay(new Date(now - 60_000).getTime()),
        receivedAt: new Date(now - 60_000),
        processedAt: new Date(now - 60_000),
        attempts: 1,
      },
      {
        tenantId: t.tenant.id,
        kind: 'auth',
        appId: null,
        eventType: 'component_verify_ticket',
        dedupKey: 'older',
        payload: ticketXml(t.input.componentAppId, 'ticket-older'),
        pushedOn: utcDay(new Date(now - 600_000).getTime()),
        receivedAt: new Date(now - 600_000),
        attempts: 1,
        lastError: 'Error: connection reset',
      },
    ]);
    expect((await server.webhooks.sweeper.sweepInbox()).outcomes.ignored).toBeGreaterThanOrEqual(1);
    expect(await server.services.credentials.getTicket(t.tenant.id)).toBe('ticket-newer');
    const older = (await inboxRows(env.database, t.tenant.id)).find((r) => r.dedupKey === 'older');
    expect(older).toMatchObject({ attempts: 2, lastError: 'ignored: a newer component_verify_ticket was saved already' });
  });

  it('gives up after the bounded number of attempts and leaves the row with its last error', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const failing = await startWebhookServer(env, {
      maxAttempts: 2,
      exchangeAuthorizationCode: async () => {
        throw new Error('code expired');
      },
    });
    try {
      const appId = randomAppId();
      const xml = buildAuthXml({
        kind: 'authorized',
        appId: t.input.componentAppId,
        createTime: nowSeconds(failing.clock),
        authorizerAppId: appId,
        authorizationCode: 'c',
      });
      expect((await post(authUrl(failing, t.tenant.id), signedPush(t.input, xml, failing.clock))).status).toBe(200);
      await failing.webhooks.drain();
      failing.clock.advance(30_000);
      expect((await failing.webhooks.sweeper.sweepInbox()).outcomes.gave_up).toBe(1);
      failing.clock.advance(3_600_000);
      expect((await failing.webhooks.sweeper.sweepInbox()).due).toBe(0);
      const [row] = await inboxRows(env.database, t.tenant.id);
      expect(row).toMatchObject({ attempts: 2, processedAt: null, lastError: 'Error: code expired' });
    } finally {
      await failing.close();
    }
  });

  it('stops a pass in progress after the row it is on, leaving the rest due (a shutdown does not wait for the batch)', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const exchanges: string[] = [];
    const slow = await startWebhookServer(env, {
      exchangeAuthorizationCode: async (tenantId, code) => {
        exchanges.push(code);
        await gate;
        return fakeExchange(tenantId, code);
      },
    });
    try {
      const appIds = [randomAppId(), randomAppId(), randomAppId()];
      await env.database.db.insert(webhookInbox).values(
        appIds.map((appId) => ({
          tenantId: t.tenant.id,
          kind: 'auth' as const,
          appId: null,
          eventType: 'authorized',
          dedupKey: `sweep-stop:${appId}`,
          payload: buildAuthXml({
            kind: 'authorized',
            appId: t.input.componentAppId,
            createTime: nowSeconds(slow.clock),
            authorizerAppId: appId,
            authorizationCode: `code:${appId}`,
          }),
          pushedOn: utcDay(slow.clock.now()),
          receivedAt: new Date(slow.clock.now()),
        })),
      );
      const pass = slow.webhooks.sweeper.sweepInbox();
      await expectEventually(async () => expect(exchanges).toHaveLength(1));
      const stopped = slow.webhooks.sweeper.stop();
      release();
      await stopped;
      expect(await pass).toEqual({ due: 3, skipped: 0, outcomes: { processed: 1, ignored: 0, failed: 0, gave_up: 0 } });
      const rows = await inboxRows(env.database, t.tenant.id);
      expect(rows.filter((r) => r.processedAt !== null)).toHaveLength(1);
      expect(rows.filter((r) => r.processedAt === null && r.attempts === 0)).toHaveLength(2);
      expect(exchanges).toHaveLength(1);
    } finally {
      release();
      await slow.close();
    }
  });

  it('runs the sweep on an interval once started, and stops', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const interval = await startWebhookServer(env, { sweepIntervalMs: 20 });
    try {
      await env.database.db.insert(webhookInbox).values({
        tenantId: t.tenant.id,
        kind: 'auth',
        appId: null,
        eventType: 'component_verify_ticket',
        dedupKey: 'interval-test',
        payload: ticketXml(t.input.componentAppId, 'ticket-by-interval', interval.clock),
        pushedOn: utcDay(new Date(interval.clock.now()).getTime()),
        receivedAt: new Date(interval.clock.now()),
      });
      interval.webhooks.sweeper.start();
      await expectEventually(async () => expect(await interval.services.credentials.getTicket(t.tenant.id)).toBe('ticket-by-interval'));
    } finally {
      await interval.close();
    }
  });
});
