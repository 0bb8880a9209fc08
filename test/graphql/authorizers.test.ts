import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WechatError } from '../../src/wechat/errors.js';
import { LiveGrantsGate } from '../../src/jobs/live-grants-gate.js';
import { createTenantWithMerchants, randomAppId } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { type GraphqlApp, startGraphqlApp } from './support/graphql-harness.js';
import type { ConnectionShape, UserErrorShape } from './support/shapes.js';

let env: TestEnv;
let app: GraphqlApp;

beforeAll(async () => {
  env = await createTestEnv();
  app = await startGraphqlApp(env);
});
afterAll(async () => {
  await app?.close();
  await env?.cleanup();
});

interface AuthorizerShape {
  appId: string;
  status: string;
  permissionSets: number[];
  liveOpen: boolean;
  liveOpenedAt: string | null;
}

const IMPORT = `mutation($input: [ImportAuthorizerInput!]!) {
  importAuthorizers(input: $input) { results { appId authorizer { appId status permissionSets liveOpen } userErrors { code field } } userErrors { code } }
}`;
const ONE = 'query($appId: String!) { authorizer(appId: $appId) { appId status permissionSets liveOpen liveOpenedAt } }';
const LIST =
  'query($first: Int, $after: String) { authorizers(first: $first, after: $after) { edges { cursor node { appId } } pageInfo { hasNextPage endCursor } } }';

describe('importAuthorizers, authorizer, authorizers', () => {
  it('imports merchants with their permission sets, one result per item, and never returns the refresh token', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const [x, y] = [randomAppId(), randomAppId()];
    const res = await app.request<{ importAuthorizers: { results: { appId: string; authorizer: AuthorizerShape | null; userErrors: UserErrorShape[] }[] } }>(
      IMPORT,
      {
        input: [
          { appId: x, refreshToken: 'secret-refresh-1', permissionSets: [1, 52] },
          { appId: 'nope', refreshToken: 'r' },
          { appId: y, refreshToken: 'secret-refresh-2' },
        ],
      },
      t.apiKey.key,
    );
    expect(JSON.stringify(res.body)).not.toContain('secret-refresh');
    expect(res.body.data?.importAuthorizers.results).toEqual([
      { appId: x, authorizer: { appId: x, status: 'AUTHORIZED', permissionSets: [1, 52], liveOpen: false }, userErrors: [] },
      { appId: 'nope', authorizer: null, userErrors: [{ code: 'INVALID_APP_ID', field: ['input', '1', 'appId'] }] },
      { appId: y, authorizer: { appId: y, status: 'AUTHORIZED', permissionSets: [52], liveOpen: false }, userErrors: [] },
    ]);
    await app.services.lifecycle.open(t.ctx, x, new Date('2026-01-10T00:00:00Z'));
    const one = await app.request<{ authorizer: AuthorizerShape }>(ONE, { appId: x }, t.apiKey.key);
    expect(one.body.data?.authorizer).toEqual({
      appId: x,
      status: 'AUTHORIZED',
      permissionSets: [1, 52],
      liveOpen: true,
      liveOpenedAt: '2026-01-10T00:00:00.000Z',
    });
  });

  it('pages authorizers newest first, one at a time across distinct insert times', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    for (let i = 0; i < 3; i++) {
      const appId = randomAppId();
      t.appIds.push(appId);
      await app.services.authorizers.import(t.ctx, [{ appId, refreshToken: 'r' }]);
      // Insert times come from the injected clock.
      app.clock.advance(1_000);
    }
    expect(await pageAll(t.apiKey.key)).toEqual([...t.appIds].reverse());
  });

  // Rows created by one statement share created_at: the keyset must still page through all of them.
  it('pages a batch-imported set of authorizers without losing any', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 5);
    expect((await pageAll(t.apiKey.key)).sort()).toEqual([...t.appIds].sort());
  });

  async function pageAll(key: string): Promise<string[]> {
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const res: { body: { data?: { authorizers: ConnectionShape<{ appId: string }> } | null } } = await app.request(LIST, { first: 2, after }, key);
      const conn = res.body.data?.authorizers;
      if (!conn) throw new Error('no connection');
      seen.push(...conn.edges.map((e) => e.node.appId));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    return seen;
  }

  it("keeps each tenant's merchants to itself", async () => {
    const a = await createTenantWithMerchants(env.database.db, env.box, 1);
    const b = await createTenantWithMerchants(env.database.db, env.box, 0);
    const appId = a.appIds[0] as string;
    expect((await app.request<{ authorizer: unknown }>(ONE, { appId }, b.apiKey.key)).body.data?.authorizer).toBeNull();
    expect((await app.request<{ authorizers: ConnectionShape<unknown> }>(LIST, {}, b.apiKey.key)).body.data?.authorizers.edges).toEqual([]);
    // B importing the same app id creates B's own record; A's stays as it was.
    await app.request(IMPORT, { input: [{ appId, refreshToken: 'b-token', permissionSets: [1] }] }, b.apiKey.key);
    const aView = await app.request<{ authorizer: AuthorizerShape }>(ONE, { appId }, a.apiKey.key);
    expect(aView.body.data?.authorizer.permissionSets).toEqual([1, 52]);
  });
});

describe('quota', () => {
  it("shows today's quota for one of the caller's merchants from the limiter's counters", async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 1);
    const appId = t.appIds[0] as string;
    await app.quotaLimiter.reserve({ id: t.tenant.id, dailyQuotaPerApp: 100, dailyQuotaPerTenant: null, callsPerSecond: 10 }, appId, app.clock.now());
    const res = await app.request<{ quota: Record<string, unknown> }>(
      'query($appId: String!) { quota(appId: $appId) { appId dailyLimit used remaining resetsAt tenantDailyLimit tenantUsed } }',
      { appId },
      t.apiKey.key,
    );
    expect(res.body.data?.quota).toMatchObject({ appId, dailyLimit: 100, used: 1, remaining: 99, tenantDailyLimit: null, tenantUsed: 1 });
    const other = await createTenantWithMerchants(env.database.db, env.box, 0);
    const theirs = await app.request<{ quota: Record<string, unknown> }>(
      'query($appId: String!) { quota(appId: $appId) { used tenantUsed } }',
      { appId },
      other.apiKey.key,
    );
    expect(theirs.body.data?.quota).toEqual({ used: 0, tenantUsed: 0 });
    const bad = await app.request('{ quota(appId: "nope") { used } }', {}, t.apiKey.key);
    expect(bad.body.errors?.[0]?.extensions?.code).toBe('INVALID_APP_ID');
  });

  it('says when WeChat grants no new live permissions (268489001), until when, and why, for every tenant', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 1);
    const appId = t.appIds[0] as string;
    const QUERY = 'query($appId: String!) { quota(appId: $appId) { liveGrantsPaused liveGrantsPausedUntil liveGrantsErrmsg } }';
    const before = await app.request<{ quota: Record<string, unknown> }>(QUERY, { appId }, t.apiKey.key);
    expect(before.body.data?.quota).toEqual({ liveGrantsPaused: false, liveGrantsPausedUntil: null, liveGrantsErrmsg: null });

    // What a worker's probe records when WeChat answers 268489001 (same Redis, same prefix).
    const gate = new LiveGrantsGate(env.redis, { prefix: env.redisPrefix, pauseMs: 3_600_000 });
    const admission = await gate.admit(app.clock.now());
    expect(admission).toMatchObject({ kind: 'call' });
    const probe = admission.kind === 'call' ? admission.probe : null;
    expect(await gate.settle(probe, 'paused', app.clock.now(), 'no new grants hint: [x]')).toBe('pause-began');
    const during = await app.request<{ quota: Record<string, unknown> }>(QUERY, { appId }, t.apiKey.key);
    expect(during.body.data?.quota).toEqual({
      liveGrantsPaused: true,
      liveGrantsPausedUntil: new Date(app.clock.now() + 3_600_000).toISOString(),
      liveGrantsErrmsg: 'no new grants hint: [x]',
    });

    app.clock.advance(3_600_000);
    const after = await app.request<{ quota: Record<string, unknown> }>(QUERY, { appId }, t.apiKey.key);
    expect(after.body.data?.quota).toMatchObject({ liveGrantsPaused: false });
  });
});

describe('createAuthorizationLink', () => {
  const LINK = 'mutation($uri: String!) { createAuthorizationLink(redirectUri: $uri) { link { url expiresAt } userErrors { code field } } }';

  it("builds WeChat's authorization page URL from a pre-auth code of the caller's component", async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const calls = app.preAuth.calls.length;
    const res = await app.request<{ createAuthorizationLink: { link: { url: string; expiresAt: string } } }>(
      LINK,
      { uri: 'https://console.example.com/done?x=1 2' },
      t.apiKey.key,
    );
    expect(app.preAuth.calls.slice(calls)).toEqual([t.tenant.id]);
    const url = new URL(res.body.data?.createAuthorizationLink.link.url ?? '');
    expect(url.searchParams.get('pre_auth_code')).toBe(`preauth@${t.tenant.id}`);
    expect(url.searchParams.get('redirect_uri')).toBe('https://console.example.com/done?x=1 2');
    expect(url.searchParams.get('auth_type')).toBe('2');
    expect(Date.parse(res.body.data?.createAuthorizationLink.link.expiresAt ?? '')).toBe(app.clock.now() + 1800_000);
  });

  it('answers userErrors for a bad redirect URI and a missing component ticket', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const bad = await app.request<{ createAuthorizationLink: unknown }>(LINK, { uri: 'javascript:alert(1)' }, t.apiKey.key);
    expect(bad.body.data?.createAuthorizationLink).toEqual({ link: null, userErrors: [{ code: 'INVALID_INPUT', field: ['redirectUri'] }] });
    app.preAuth.failWith = new WechatError({ code: 'COMPONENT_TICKET_MISSING', endpoint: 'api_create_preauthcode' });
    try {
      const res = await app.request<{ createAuthorizationLink: unknown }>(LINK, { uri: 'https://console.example.com/' }, t.apiKey.key);
      expect(res.body.data?.createAuthorizationLink).toEqual({ link: null, userErrors: [{ code: 'COMPONENT_TICKET_MISSING', field: null }] });
    } finally {
      app.preAuth.failWith = undefined;
    }
  });
});
