import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';
import { collect, type GraphqlApp, startGraphqlApp, wsOnce } from './support/graphql-harness.js';
import type { PayloadShape } from './support/shapes.js';

let env: TestEnv;
let app: GraphqlApp;
let tenant: Awaited<ReturnType<typeof createTenantWithMerchants>>;
let readKey: string;

beforeAll(async () => {
  env = await createTestEnv();
  app = await startGraphqlApp(env);
  tenant = await createTenantWithMerchants(env.database.db, env.box, 2);
  readKey = (await app.services.tenants.createApiKey(tenant.tenant.id, ['read'])).key;
});
afterAll(async () => {
  await app?.close();
  await env?.cleanup();
});

const LIST = '{ liveApplications { edges { node { id } } } }';
const APPLY = 'mutation($appId: String!) { applyLive(input: { appId: $appId }) { application { id } userErrors { code } } }';

describe('authentication over HTTP', () => {
  it('answers 401 UNAUTHENTICATED without a key, with an unknown key, or a malformed header', async () => {
    for (const key of [null, 'wxl_nope_nope', 'not-a-key']) {
      for (const [query, variables] of [
        [LIST, {}],
        [APPLY, { appId: tenant.appIds[0] }],
      ] as const) {
        const res = await app.request(query, variables, key);
        expect(res.status).toBe(401);
        expect(res.body.data).toBeUndefined();
        expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      }
    }
    const basic = await app.request(LIST, {}, null, { authorization: 'Basic Zm9vOmJhcg==' });
    expect(basic.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('stops accepting a key once it is revoked', async () => {
    const extra = await app.services.tenants.createApiKey(tenant.tenant.id, ['write']);
    expect((await app.request(LIST, {}, extra.key)).status).toBe(200);
    await app.services.tenants.revokeApiKey(tenant.tenant.id, extra.id);
    const res = await app.request(LIST, {}, extra.key);
    expect(res.status).toBe(401);
    expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('lets a read key query but answers 403 FORBIDDEN to its mutations, changing nothing', async () => {
    const read = await app.request(LIST, {}, readKey);
    expect(read.status).toBe(200);
    expect(read.body.errors).toBeUndefined();
    const res = await app.request<{ applyLive: PayloadShape }>(APPLY, { appId: tenant.appIds[0] }, readKey);
    expect(res.status).toBe(403);
    expect(res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(app.queue.enqueued).toHaveLength(0);
    const list = await app.request<{ liveApplications: { edges: unknown[] } }>(LIST, {}, tenant.apiKey.key);
    expect(list.body.data?.liveApplications.edges).toHaveLength(0);
  });

  it('answers with the tenant of the key, never one named in the request', async () => {
    // Another tenant with other settings, so an answer about it could not pass for the key's.
    const other = await createTenantWithMerchants(env.database.db, env.box, 0, { dailyQuotaPerApp: 7 });
    const named = other.tenant.id;
    // The ways a client might try to pick its tenant: none is read, the key alone decides.
    const requests: { name: string; headers: Record<string, string>; body: Record<string, unknown> }[] = [
      { name: 'a header', headers: { 'x-tenant-id': named, 'x-wxlive-tenant': named }, body: {} },
      { name: 'a variable', headers: {}, body: { variables: { tenantId: named } } },
      { name: 'the extensions', headers: {}, body: { extensions: { tenantId: named, tenant: { id: named } } } },
    ];
    for (const { name, headers, body } of requests) {
      const res = await fetch(app.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${readKey}`, ...headers },
        body: JSON.stringify({ query: '{ tenant { id scope scopes dailyQuotaPerApp } }', ...body }),
      });
      const answer = (await res.json()) as { data?: { tenant: unknown }; errors?: unknown[] };
      expect(answer.errors, name).toBeUndefined();
      expect(answer.data?.tenant, name).toEqual({ id: tenant.tenant.id, scope: 'read', scopes: ['read'], dailyQuotaPerApp: 100 });
    }
  });
});

describe('authentication over WebSocket', () => {
  it('closes the connection with 4403 without a key or with an unknown one', async () => {
    for (const key of [undefined, 'wxl_nope_nope']) {
      const codes: number[] = [];
      const client = app.wsClient(key, { onClose: (code) => codes.push(code) });
      const sub = collect(client, 'subscription { liveApplicationUpdated { id } }');
      await expectEventually(() => expect(codes).toContain(4403));
      sub.dispose();
    }
  });

  it('closes with 4403 for a revoked key, and refuses new operations once a key is revoked mid-connection', async () => {
    const extra = await app.services.tenants.createApiKey(tenant.tenant.id, ['write']);
    const client = app.wsClient(extra.key);
    // An open subscription keeps the (lazy) client on the same socket.
    const open = collect(client, 'subscription { liveApplicationUpdated { id } }');
    const first = await wsOnce<{ tenant: { id: string } }>(client, '{ tenant { id } }');
    expect(first.data?.tenant.id).toBe(tenant.tenant.id);
    await app.services.tenants.revokeApiKey(tenant.tenant.id, extra.id);
    await expect(wsOnce(client, '{ tenant { id } }')).rejects.toSatisfy((errors: unknown) => JSON.stringify(errors).includes('UNAUTHENTICATED'));
    open.dispose();

    const codes: number[] = [];
    const again = app.wsClient(extra.key, { onClose: (code) => codes.push(code) });
    const sub = collect(again, '{ tenant { id } }');
    await expectEventually(() => expect(codes).toContain(4403));
    sub.dispose();
  });

  it('refuses a mutation sent over WebSocket with a read key (FORBIDDEN)', async () => {
    const client = app.wsClient(readKey);
    await expect(wsOnce(client, APPLY, { appId: tenant.appIds[0] })).rejects.toSatisfy((errors: unknown) => JSON.stringify(errors).includes('FORBIDDEN'));
    expect(app.queue.enqueued).toHaveLength(0);
  });
});
