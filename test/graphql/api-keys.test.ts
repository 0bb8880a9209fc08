import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeys } from '../../src/db/tables.js';
import { hashApiKey } from '../../src/services/api-keys/api-keys.service.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';
import { collect, type GraphqlApp, startGraphqlApp } from './support/graphql-harness.js';

let env: TestEnv;
let app: GraphqlApp;
let tenant: Awaited<ReturnType<typeof createTenantWithMerchants>>;
let adminKey: string;

beforeAll(async () => {
  env = await createTestEnv();
  // The cache on, as in production: expiry and lastUsedAt must hold for cached keys too.
  app = await startGraphqlApp(env, { apiKeyCacheTtlMs: 60_000 });
  tenant = await createTenantWithMerchants(env.database.db, env.box, 0);
  adminKey = (await app.services.tenants.createApiKey(tenant.tenant.id, ['admin'])).key;
});
afterAll(async () => {
  await app?.close();
  await env?.cleanup();
});

const KEY_FIELDS = 'id name prefix scopes createdAt expiresAt lastUsedAt revokedAt';
const CREATE = `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { ${KEY_FIELDS} } key userErrors { code field message } } }`;
const LIST = `{ apiKeys { ${KEY_FIELDS} } }`;
const REVOKE = `mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { ${KEY_FIELDS} } userErrors { code field } } }`;
const TENANT = '{ tenant { id scopes } }';

interface KeyView {
  id: string;
  name: string | null;
  prefix: string;
  scopes: string[];
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}
type CreateResult = { createApiKey: { apiKey: KeyView | null; key: string | null; userErrors: { code: string; field: string[]; message: string }[] } };

const inMinutes = (minutes: number) => new Date(app.clock.now() + minutes * 60_000).toISOString();

async function create(input: Record<string, unknown>) {
  const res = await app.request<CreateResult>(CREATE, { input }, adminKey);
  expect(res.status).toBe(200);
  return res.body.data?.createApiKey as CreateResult['createApiKey'];
}

describe('API key lifecycle over GraphQL (admin keys)', () => {
  it('creates a key shown once, lists keys without key or hash, and the new key works with its scopes', async () => {
    const created = await create({ scopes: ['write'], expiresAt: inMinutes(60), name: 'ci' });
    expect(created.userErrors).toEqual([]);
    expect(created.key).toMatch(/^wxl_[0-9a-f]{8}_/);
    expect(created.apiKey).toMatchObject({ name: 'ci', scopes: ['read', 'write'], expiresAt: inMinutes(60), lastUsedAt: null, revokedAt: null });
    expect(created.key?.startsWith(`wxl_${created.apiKey?.prefix}_`)).toBe(true);

    const me = await app.request<{ tenant: { id: string; scopes: string[] } }>(TENANT, {}, created.key);
    expect(me.body.data?.tenant).toEqual({ id: tenant.tenant.id, scopes: ['read', 'write'] });

    const list = await app.request<{ apiKeys: KeyView[] }>(LIST, {}, adminKey);
    expect(list.body.data?.apiKeys.map((k) => k.id)).toContain(created.apiKey?.id);
    const text = JSON.stringify(list.body);
    expect(text).not.toContain(created.key);
    expect(text).not.toContain(hashApiKey(created.key as string));
    expect(text).not.toContain(hashApiKey(adminKey));
  });

  it('answers bad input with userErrors naming the field, creating nothing', async () => {
    const before = (await app.services.apiKeys.list(tenant.ctx)).length;
    const cases: [Record<string, unknown>, string[]][] = [
      [{ scopes: ['read'], expiresAt: inMinutes(-1) }, ['input', 'expiresAt']],
      [{ scopes: ['superuser'], expiresAt: inMinutes(5) }, ['input', 'scopes']],
      [{ scopes: [], expiresAt: inMinutes(5) }, ['input', 'scopes']],
      [{ scopes: ['read'], expiresAt: inMinutes(5), name: 'x'.repeat(101) }, ['input', 'name']],
    ];
    for (const [input, field] of cases) {
      const result = await create(input);
      expect({ apiKey: result.apiKey, key: result.key, errors: result.userErrors.map((e) => [e.code, e.field]) }).toEqual({
        apiKey: null,
        key: null,
        errors: [['INVALID_INPUT', field]],
      });
    }
    expect(await app.services.apiKeys.list(tenant.ctx)).toHaveLength(before);
  });

  it('refuses an expired key with UNAUTHENTICATED saying it expired and what to do, cached or not', async () => {
    const created = await create({ scopes: ['read'], expiresAt: inMinutes(10) });
    const key = created.key as string;
    expect((await app.request(TENANT, {}, key)).status).toBe(200); // now in the cache
    app.clock.advance(10 * 60_000);
    const res = await app.request(TENANT, {}, key);
    expect(res.status).toBe(401);
    expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(res.body.errors?.[0]?.message).toContain(`expired at ${created.apiKey?.expiresAt}`);
    expect(res.body.errors?.[0]?.message).toContain('createApiKey');
    // Over WebSocket too: the connection is refused.
    const closes: number[] = [];
    const sub = collect(app.wsClient(key, { onClose: (code) => closes.push(code) }), 'subscription { liveApplicationUpdated { id } }');
    await expectEventually(() => expect(closes).toEqual([4403]));
    sub.dispose();
  });

  it('writes lastUsedAt at most once a minute per key, not per request', async () => {
    const created = await create({ scopes: ['read'], expiresAt: inMinutes(600) });
    const key = created.key as string;
    const id = created.apiKey?.id as string;
    const stored = async () => (await env.database.db.select({ at: apiKeys.lastUsedAt }).from(apiKeys).where(eq(apiKeys.id, id)))[0]?.at?.getTime() ?? null;
    expect(await stored()).toBeNull();
    const first = app.clock.now();
    for (let i = 0; i < 5; i++) expect((await app.request(TENANT, {}, key)).status).toBe(200);
    expect(await stored()).toBe(first);
    app.clock.advance(59_000);
    for (let i = 0; i < 5; i++) expect((await app.request(TENANT, {}, key)).status).toBe(200);
    expect(await stored()).toBe(first);
    app.clock.advance(1_000);
    expect((await app.request(TENANT, {}, key)).status).toBe(200);
    expect(await stored()).toBe(first + 60_000);
    const listed = await app.request<{ apiKeys: KeyView[] }>(LIST, {}, adminKey);
    expect(listed.body.data?.apiKeys.find((k) => k.id === id)?.lastUsedAt).toBe(new Date(first + 60_000).toISOString());
  });

  it('revokes a key: refused at once, even though it was cached; revoking again answers it unchanged', async () => {
    const created = await create({ scopes: ['read'], expiresAt: inMinutes(600) });
    const key = created.key as string;
    const id = created.apiKey?.id as string;
    expect((await app.request(TENANT, {}, key)).status).toBe(200);
    const revoked = await app.request<{ revokeApiKey: { apiKey: KeyView | null; userErrors: unknown[] } }>(REVOKE, { id }, adminKey);
    expect(revoked.body.data?.revokeApiKey.userErrors).toEqual([]);
    const revokedAt = revoked.body.data?.revokeApiKey.apiKey?.revokedAt;
    expect(revokedAt).toBe(new Date(app.clock.now()).toISOString());
    const res = await app.request(TENANT, {}, key);
    expect(res.status).toBe(401);
    expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    app.clock.advance(1000);
    const again = await app.request<{ revokeApiKey: { apiKey: KeyView | null } }>(REVOKE, { id }, adminKey);
    expect(again.body.data?.revokeApiKey.apiKey?.revokedAt).toBe(revokedAt);
    const missing = await app.request<{ revokeApiKey: unknown }>(REVOKE, { id: '00000000-0000-4000-8000-000000000000' }, adminKey);
    expect(missing.body.data?.revokeApiKey).toEqual({ apiKey: null, userErrors: [{ code: 'NOT_FOUND', field: ['id'] }] });
  });

  it('is refused to keys without the admin scope', async () => {
    const write = (await app.services.tenants.createApiKey(tenant.tenant.id, ['write'])).key;
    for (const [query, variables] of [
      [LIST, {}],
      [CREATE, { input: { scopes: ['admin'], expiresAt: inMinutes(5) } }],
    ] as const) {
      const res = await app.request(query, variables, write);
      expect(res.status).toBe(403);
      expect(res.body.errors?.[0]?.message).toContain('needs the admin scope');
    }
  });
});
