import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/app/create-app.js';
import { apiKeys } from '../../src/db/tables.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';

let env: TestEnv;
let a: App;
let b: App;

beforeAll(async () => {
  env = await createTestEnv();
  // Both instances cache valid keys for a minute (the default): only the invalidation makes B forget.
  a = await createApp(env.config({ ROLE: 'api', API_KEY_CACHE_SECONDS: '60' }));
  b = await createApp(env.config({ ROLE: 'api', API_KEY_CACHE_SECONDS: '60' }));
});

afterAll(async () => {
  for (const app of [a, b]) await app?.stop();
  await env?.cleanup();
});

async function post(app: App, key: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as { data?: Record<string, unknown>; errors?: { extensions?: { code?: string } }[] } };
}

const TENANT = '{ tenant { id } }';

describe('revoking an API key with two gateway instances', () => {
  it('makes instance B refuse the key within a second of revokeApiKey on instance A, although B had it cached', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const admin = t.ctx;
    const adminKey = (await a.services.tenants.createApiKey(admin.tenantId, ['admin'])).key;
    const victim = await a.services.tenants.createApiKey(admin.tenantId, ['read']);
    const control = await a.services.tenants.createApiKey(admin.tenantId, ['read']);
    for (const key of [victim.key, control.key]) expect((await post(b, key, TENANT)).status).toBe(200);

    // B really answers from its cache: a revocation written behind the gateway's back goes unnoticed.
    await env.database.db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, control.id));
    expect((await post(b, control.key, TENANT)).status).toBe(200);

    const revoked = await post(a, adminKey, 'mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id revokedAt } userErrors { code } } }', { id: victim.id });
    expect(revoked.body.data?.revokeApiKey).toMatchObject({ apiKey: { id: victim.id }, userErrors: [] });
    expect((await post(a, victim.key, TENANT)).status).toBe(401);
    // Within a second of the answer: polled every 10 ms, never slept.
    const refused = await expectEventually(
      async () => {
        const res = await post(b, victim.key, TENANT);
        expect(res.status).toBe(401);
        return res;
      },
      { timeoutMs: 1000, intervalMs: 10 },
    );
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
