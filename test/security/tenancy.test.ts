import { randomBytes } from 'node:crypto';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { eq } from 'drizzle-orm';
import { authorizers, liveGoods, liveRooms, webhookDeliveries } from '../../src/db/tables.js';
import { changeFeedKeys } from '../../src/events/change-feed.js';
import { utcDay } from '../../src/lib/clock.js';
import { systemContext } from '../../src/services/context.js';
import { collect, type GraphqlApp, startGraphqlApp, wsOnce } from '../graphql/support/graphql-harness.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';
import {
  type Attacker,
  neededScope,
  OPERATIONS,
  type OperationCase,
  type Scope,
  schemaOperations,
  tableOperations,
  type Victim,
} from './support/operations.js';
import { tenantSnapshot } from './support/tenant-snapshot.js';
import { RedisLiveEventPublisher } from '../../src/events/live-event-feed.js';

let env: TestEnv;
let app: GraphqlApp;
let victim: Victim;
let victimKey: string;
let before: Awaited<ReturnType<typeof tenantSnapshot>>;

const APPLY = 'mutation($appId: String!, $key: String) { applyLive(input: { appId: $appId, idempotencyKey: $key }) { application { id } } }';

beforeAll(async () => {
  env = await createTestEnv();
  app = await startGraphqlApp(env);
  const a = await createTenantWithMerchants(env.database.db, env.box, 2);
  victimKey = a.apiKey.key;
  const [app1, app2] = a.appIds as [string, string];
  const idempotencyKey = 'victim-idempotency-key';
  const applied = [];
  for (const [appId, key] of [
    [app1, idempotencyKey],
    [app2, null],
  ] as const) {
    const res = await app.request<{ applyLive: { application: { id: string } } }>(APPLY, { appId, key }, victimKey);
    applied.push(res.body.data?.applyLive.application.id as string);
  }
  const limits = await app.services.tenants.current(a.ctx);
  for (let i = 0; i < 3; i++) expect((await app.quotaLimiter.reserve(limits, app1, app.clock.now())).ok).toBe(true);
  const apps = await app.request<{ liveApplications: { edges: { cursor: string }[] } }>('{ liveApplications { edges { cursor } } }', {}, victimKey);
  const auths = await app.request<{ authorizers: { edges: { cursor: string; node: { id: string; appId: string } }[] } }>(
    '{ authorizers { edges { cursor node { id appId } } } }',
    {},
    victimKey,
  );
  const [newest] = await env.redis.xrevrange(changeFeedKeys(env.redisPrefix).stream(a.tenant.id), '+', '-', 'COUNT', 1);
  const feedCursor = newest?.[0] as string;
  const authorizerId = (appId: string) => auths.body.data?.authorizers.edges.find((e) => e.node.appId === appId)?.node.id as string;
  // A token the gateway holds for A's merchant, and A's own token key reading it.
  const authorizerToken = `atk_victim_${randomBytes(12).toString('hex')}`;
  await app.tokens.rememberAuthorizerToken(a.tenant.id, app1, authorizerToken, 7200);
  const victimTokenKey = (await app.services.tenants.createApiKey(a.tenant.id, ['token'])).key;
  const own = await app.request<{ authorizerAccessToken: { token: string } }>(
    'query($appId: String!) { authorizerAccessToken(appId: $appId) { token } }',
    { appId: app1 },
    victimTokenKey,
  );
  expect(own.body.data?.authorizerAccessToken.token).toBe(authorizerToken);
  const endpoint = await app.services.webhookEndpoints.create(a.ctx, { url: 'https://93.184.215.14/victim', kind: 'EVENTS' });
  const [delivery] = await env.database.db
    .insert(webhookDeliveries)
    .values({
      tenantId: a.tenant.id,
      endpointId: endpoint.endpoint?.id as string,
      eventType: 'application.updated',
      source: 'test:victim',
      payload: '{}',
      status: 'FAILED',
      createdAt: new Date(),
      createdOn: utcDay(Date.now()),
    })
    .returning({ id: webhookDeliveries.id });
  // A's merchant has live open, a room and a good in the mirror.
  await env.database.db.update(authorizers).set({ liveOpen: true }).where(eq(authorizers.appId, app1));
  const at = new Date();
  await env.database.db.insert(liveRooms).values({
    tenantId: a.tenant.id,
    appId: app1,
    roomId: 4242,
    name: 'Victim room',
    status: 'NOT_STARTED',
    liveStatus: 102,
    startTime: new Date(at.getTime() + 86_400_000),
    endTime: new Date(at.getTime() + 90_000_000),
    anchorName: 'Victim anchor',
    coverImg: 'https://mmbiz.qpic.cn/victim/0',
    shareImg: 'https://mmbiz.qpic.cn/victim/0',
    feedsImg: 'https://mmbiz.qpic.cn/victim/0',
    settings: {},
    goods: [],
    syncedAt: at,
    updatedAt: at,
  });
  await env.database.db.insert(liveGoods).values({
    tenantId: a.tenant.id,
    appId: app1,
    goodsId: 777,
    auditId: 888,
    name: 'Victim goods',
    coverImgUrl: 'https://mmbiz.qpic.cn/victim/0',
    url: 'pages/goods?id=1',
    priceType: 1,
    price: '10',
    auditStatus: 'APPROVED',
    syncedAt: at,
    updatedAt: at,
  });
  victim = {
    roomId: 4242,
    goodsId: 777,
    webhookEndpointId: endpoint.endpoint?.id as string,
    webhookDeliveryId: delivery?.id as string,
    apiKeyId: a.apiKey.id,
    tenantId: a.tenant.id,
    tenantName: a.tenant.name,
    appIds: [app1, app2],
    applicationIds: applied as [string, string],
    authorizerIds: [authorizerId(app1), authorizerId(app2)],
    idempotencyKey,
    applicationsCursor: apps.body.data?.liveApplications.edges[0]?.cursor as string,
    authorizersCursor: auths.body.data?.authorizers.edges[0]?.cursor as string,
    feedCursor,
    authorizerToken,
  };
  for (const value of Object.values(victim)) expect(value).toBeTruthy();
  before = await tenantSnapshot(env, victim.tenantId);
});

afterAll(async () => {
  await app?.close();
  await env?.cleanup();
});

function graphqlCodes(body: unknown): string[] {
  const errors = (body as { errors?: { extensions?: { code?: string } }[] }).errors ?? [];
  return errors.map((e) => e.extensions?.code ?? '');
}

/** Every opaque id and token tenant A was ever given; none may appear in an answer to tenant B. */
function victimSecrets(): string[] {
  return [
    victim.tenantId,
    ...victim.applicationIds,
    ...victim.authorizerIds,
    victim.applicationsCursor,
    victim.authorizersCursor,
    victim.authorizerToken,
    victim.webhookEndpointId,
    victim.webhookDeliveryId,
    victim.apiKeyId,
  ];
}

/**
 * Runs a query or mutation over HTTP and over WebSocket, a subscription over WebSocket; returns
 * the field's value from each.
 */
async function runAs(op: OperationCase, key: string, attacker: Attacker & { ownAppId: string }): Promise<unknown[]> {
  const variables = op.variables(victim);
  if (op.type !== 'subscription') {
    const res = await app.request<Record<string, unknown>>(op.document, variables, key);
    expect(res.status).toBe(200);
    expect(graphqlCodes(res.body)).toEqual(op.errors ?? []);
    const ws = await wsOnce<Record<string, unknown>>(app.wsClient(key), op.document, variables);
    expect(graphqlCodes(ws)).toEqual(op.errors ?? []);
    for (const id of victimSecrets()) expect(JSON.stringify([res.body, ws])).not.toContain(id);
    // A non-null field that failed leaves no data at all.
    return [res.body.data?.[op.field] ?? null, ws.data?.[op.field] ?? null];
  }
  // A subscription aimed at A's application, next to an unfiltered one as the sentinel: once B's own
  // change reaches the sentinel, A's earlier change would have reached the probe too.
  const listening = () => app.subscriber.listenerCount + app.liveSubscriber.listenerCount;
  const listeners = listening();
  const client = app.wsClient(key);
  const probe = collect<Record<string, { id: string }>>(client, op.document, variables);
  const sentinel = collect<{ liveApplicationUpdated: { appId: string } }>(client, 'subscription { liveApplicationUpdated { appId status } }');
  await expectEventually(() => expect(listening()).toBe(listeners + 2));
  await app.services.lifecycle.cancel(systemContext(victim.tenantId), victim.applicationIds[1]);
  // A live room event of A's, published before B's own change on the same Redis: it would reach B's probe first.
  await new RedisLiveEventPublisher(env.redis, env.redisPrefix).publish(victim.tenantId, [
    {
      cursor: '999999',
      tenantId: victim.tenantId,
      appId: victim.appIds[0],
      type: 'live_room.updated',
      subjectId: victim.roomId,
      data: { roomId: victim.roomId, appId: victim.appIds[0], name: 'A room', status: 'LIVE', previousStatus: 'NOT_STARTED' },
      createdAt: new Date(),
    },
  ]);
  const own = await app.request(APPLY, { appId: attacker.ownAppId }, key);
  expect(graphqlCodes(own.body)).toEqual([]);
  await expectEventually(() => expect(sentinel.results.map((r) => r.data?.liveApplicationUpdated.appId)).toEqual([attacker.ownAppId]));
  probe.dispose();
  sentinel.dispose();
  expect(probe.state.error).toBeUndefined();
  return [probe.results.map((r) => r.data?.[op.field])];
}

describe('tenant B aiming every operation at tenant A', () => {
  for (const op of OPERATIONS) {
    it(`${op.type} ${op.field}: B reads and changes nothing of A's`, async () => {
      const b = await createTenantWithMerchants(env.database.db, env.box, 1);
      const attacker = { tenantId: b.tenant.id, ownAppId: b.appIds[0] as string };
      const key = op.scope === undefined ? b.apiKey.key : (await app.services.tenants.createApiKey(b.tenant.id, [op.scope])).key;
      const enqueued = app.queue.enqueued.length;
      for (const value of await runAs(op, key, attacker)) op.checkForeign(value, victim, attacker);
      const after = await tenantSnapshot(env, victim.tenantId);
      if (op.type === 'subscription') {
        // The sentinel step cancelled A's second application itself; everything else is as it was.
        expect(after.rows.applications.find((r) => r.id === victim.applicationIds[1])?.status).toBe('CANCELLED');
        before = after;
      }
      expect(after).toEqual(before);
      expect(app.queue.enqueued.slice(enqueued).filter((job) => job.tenantId === victim.tenantId)).toEqual([]);
      expect(app.webhookQueue.enqueued.filter((d) => d.tenantId === victim.tenantId)).toEqual([]);
      expect(app.queue.removed).not.toContain(victim.applicationIds[0]);
      expect(app.preAuth.calls).not.toContain(victim.tenantId);
    });
  }

  it("gives B no way to spend A's quota or see it: A's own answer still counts its reservations", async () => {
    const res = await app.request<{ quota: { used: number } }>(
      'query($appId: String!) { quota(appId: $appId) { used } }',
      { appId: victim.appIds[0] },
      victimKey,
    );
    expect(res.body.data?.quota.used).toBe(3);
  });
});

interface BadKey {
  label: string;
  /** The Authorization header over HTTP (null: none). */
  header: string | null;
  /** connectionParams over WebSocket. */
  params: Record<string, unknown>;
}

async function badKeys(): Promise<BadKey[]> {
  const t = await createTenantWithMerchants(env.database.db, env.box, 0);
  const revoked = await app.services.tenants.createApiKey(t.tenant.id, ['write']);
  await app.services.tenants.revokeApiKey(t.tenant.id, revoked.id);
  const valid = t.apiKey.key;
  const tampered = `${valid.slice(0, -1)}${valid.endsWith('A') ? 'B' : 'A'}`;
  const asHeader = (key: string): Pick<BadKey, 'header' | 'params'> => ({ header: `Bearer ${key}`, params: { authorization: `Bearer ${key}` } });
  return [
    { label: 'no key', header: null, params: {} },
    { label: 'an empty bearer', header: 'Bearer ', params: { authorization: 'Bearer ' } },
    { label: 'a malformed key', ...asHeader('not-a-key') },
    { label: 'a key-shaped forgery', ...asHeader('wxl_abcdefgh_0000000000000000000000000000000') },
    { label: 'a tampered key', ...asHeader(tampered) },
    { label: 'an injection attempt', ...asHeader("wxl_' OR '1'='1") },
    { label: 'a 4 KiB key', ...asHeader(`wxl_${'x'.repeat(4096)}`) },
    { label: 'a revoked key', ...asHeader(revoked.key) },
    { label: 'Basic credentials', header: 'Basic Zm9vOmJhcg==', params: { authorization: { key: valid } } },
  ];
}

function rawWsClient(params: Record<string, unknown>, onClose: (code: number) => void) {
  return createClient({
    url: app.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: params,
    retryAttempts: 0,
    lazy: true,
    on: { closed: (event) => onClose((event as { code: number }).code) },
  });
}

describe('every operation without a valid key', () => {
  let keys: BadKey[];
  beforeAll(async () => {
    keys = await badKeys();
  });

  for (const op of OPERATIONS) {
    it(`${op.type} ${op.field}: HTTP 401 UNAUTHENTICATED, WebSocket closed with 4403, nothing changed`, async () => {
      const enqueued = app.queue.enqueued.length;
      for (const key of keys) {
        const res = await app.request(op.document, op.variables(victim), null, key.header === null ? {} : { authorization: key.header });
        expect({ key: key.label, status: res.status, codes: graphqlCodes(res.body) }).toEqual({ key: key.label, status: 401, codes: ['UNAUTHENTICATED'] });
        expect(res.body.data).toBeUndefined();

        const closes: number[] = [];
        const client = rawWsClient(key.params, (code) => closes.push(code));
        const sub = collect(client, op.document, op.variables(victim));
        await expectEventually(() => expect({ key: key.label, closes }).toEqual({ key: key.label, closes: [4403] }));
        expect(sub.results).toEqual([]);
        sub.dispose();
        await client.dispose();
      }
      expect(app.queue.enqueued.length).toBe(enqueued);
      expect(await tenantSnapshot(env, victim.tenantId)).toEqual(before);
    });
  }
});

describe('a read-only key', () => {
  for (const op of OPERATIONS.filter((o) => o.type === 'mutation')) {
    it(`mutation ${op.field}: FORBIDDEN over HTTP (403) and WebSocket, nothing changed`, async () => {
      const { key } = await app.services.tenants.createApiKey(victim.tenantId, ['read']);
      const enqueued = app.queue.enqueued.length;
      const preAuthCalls = app.preAuth.calls.length;
      const res = await app.request(op.document, op.variables(victim), key);
      expect(res.status).toBe(403);
      expect(graphqlCodes(res.body)).toEqual(['FORBIDDEN']);
      expect(res.body.data).toBeUndefined();
      await expect(wsOnce(app.wsClient(key), op.document, op.variables(victim))).rejects.toSatisfy((errors: unknown) =>
        JSON.stringify(errors).includes('FORBIDDEN'),
      );
      expect(app.queue.enqueued.length).toBe(enqueued);
      expect(app.preAuth.calls.length).toBe(preAuthCalls);
      const after = await tenantSnapshot(env, victim.tenantId);
      // Only the key made for this test is new.
      expect({ ...after, rows: { ...after.rows, apiKeys: after.rows.apiKeys.filter((k) => k.scopes.join() !== 'read') } }).toEqual(before);
    });
  }

  it('still runs queries and subscriptions', async () => {
    const { key } = await app.services.tenants.createApiKey(victim.tenantId, ['read']);
    const res = await app.request<{ tenant: { id: string } }>('{ tenant { id } }', {}, key);
    expect(res.body.data?.tenant.id).toBe(victim.tenantId);
    const listeners = app.subscriber.listenerCount;
    const sub = collect(app.wsClient(key), 'subscription { liveApplicationUpdated { id } }');
    await expectEventually(() => expect(app.subscriber.listenerCount).toBe(listeners + 1));
    expect(sub.state.error).toBeUndefined();
    sub.dispose();
  });
});

/** A new key of A's own with `scopes`. */
async function victimKeyWith(scopes: Scope[]): Promise<{ key: string; id: string }> {
  const created = await app.services.tenants.createApiKey(victim.tenantId, scopes);
  return { key: created.key, id: created.id };
}

/** Asserts an operation was refused as FORBIDDEN naming `scope`, over HTTP (403) and WebSocket, and that nothing changed. */
async function expectForbidden(op: OperationCase, key: { key: string; id: string }, scope: Scope): Promise<void> {
  const enqueued = app.queue.enqueued.length;
  const preAuthCalls = app.preAuth.calls.length;
  const message = `needs the ${scope} scope`;
  if (op.type !== 'subscription') {
    const res = await app.request(op.document, op.variables(victim), key.key);
    expect({ status: res.status, codes: graphqlCodes(res.body) }).toEqual({ status: 403, codes: ['FORBIDDEN'] });
    expect(res.body.errors?.[0]?.message).toContain(message);
    expect(res.body.data).toBeUndefined();
  }
  await expect(wsOnce(app.wsClient(key.key), op.document, op.variables(victim))).rejects.toSatisfy((errors: unknown) => {
    const text = JSON.stringify(errors);
    return text.includes('FORBIDDEN') && text.includes(message);
  });
  expect(app.queue.enqueued.length).toBe(enqueued);
  expect(app.preAuth.calls.length).toBe(preAuthCalls);
  // Keys made for these tests are new; everything else is as it was.
  const known = new Set(before.rows.apiKeys.map((k) => k.id));
  const after = await tenantSnapshot(env, victim.tenantId);
  expect({ ...after, rows: { ...after.rows, apiKeys: after.rows.apiKeys.filter((k) => known.has(k.id)) } }).toEqual(before);
}

describe('a token-only key', () => {
  for (const op of OPERATIONS.filter((o) => neededScope(o) !== 'token')) {
    it(`${op.type} ${op.field}: FORBIDDEN (needs the ${neededScope(op)} scope), nothing read or changed`, async () => {
      await expectForbidden(op, await victimKeyWith(['token']), neededScope(op));
    });
  }

  it('is refused a query that mixes a token field with another field, and runs neither', async () => {
    const key = await victimKeyWith(['token']);
    const res = await app.request(
      'query($appId: String!) { authorizerAccessToken(appId: $appId) { token } tenant { id } }',
      { appId: victim.appIds[0] },
      key.key,
    );
    expect({ status: res.status, codes: graphqlCodes(res.body) }).toEqual({ status: 403, codes: ['FORBIDDEN'] });
    expect(JSON.stringify(res.body)).not.toContain(victim.authorizerToken);
  });
});

describe('read and write keys', () => {
  for (const op of OPERATIONS.filter((o) => neededScope(o) === 'token')) {
    it(`query ${op.field}: FORBIDDEN (needs the token scope) for a read key and a write key, no token shown`, async () => {
      for (const scopes of [['read'], ['read', 'write']] as Scope[][]) {
        const key = await victimKeyWith(scopes);
        await expectForbidden(op, key, 'token');
        const res = await app.request(op.document, op.variables(victim), key.key);
        expect(JSON.stringify(res.body)).not.toContain(victim.authorizerToken);
      }
    });
  }

  it('keep working as before: a read key queries and subscribes, a write key also mutates', async () => {
    const read = await victimKeyWith(['read']);
    expect((await app.request<{ tenant: { scopes: string[] } }>('{ tenant { scopes } }', {}, read.key)).body.data?.tenant.scopes).toEqual(['read']);
    const write = await victimKeyWith(['write']);
    const res = await app.request<{ importAuthorizers: { userErrors: unknown[] } }>(
      'mutation { importAuthorizers(input: []) { userErrors { code } } }',
      {},
      write.key,
    );
    expect(res.status).toBe(200);
    expect(res.body.data?.importAuthorizers.userErrors).toEqual([]);
    expect((await app.request<{ tenant: { scopes: string[] } }>('{ tenant { scopes } }', {}, write.key)).body.data?.tenant.scopes).toEqual(['read', 'write']);
  });
});

describe('the operation table', () => {
  it('covers every query, mutation and subscription of schema.graphql', () => {
    expect(tableOperations()).toEqual(schemaOperations());
  });
});
