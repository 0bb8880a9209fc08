import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookEndpoints } from '../../../src/db/tables.js';
import type { Lookup } from '../../../src/services/webhooks/url-policy.js';
import { type GraphqlApp, startGraphqlApp } from '../../graphql/support/graphql-harness.js';
import { createTenantWithMerchants } from '../../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../../support/test-env.js';

let env: TestEnv;
let app: GraphqlApp;
let adminKey: string;
let tenantId: string;

// DNS as the URL check sees it: names that resolve to private addresses, one public name, none else.
const DNS: Record<string, string[]> = {
  'hooks.provider.example': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
  'rebind.provider.example': ['93.184.215.14', '10.1.2.3'],
  'metadata.provider.example': ['169.254.169.254'],
};
const lookup: Lookup = async (host) => {
  const found = DNS[host];
  if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return found.map((address) => ({ address }));
};

const CREATE = `mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { endpoint { id url kind events enabled createdAt } secret userErrors { code message field } }
}`;

type Created = {
  createWebhookEndpoint: {
    endpoint: { id: string; url: string; kind: string; events: string[] | null; enabled: boolean } | null;
    secret: string | null;
    userErrors: { code: string; message: string; field: string[] | null }[];
  };
};

async function create(input: Record<string, unknown>, key = adminKey) {
  const res = await app.request<Created>(CREATE, { input }, key);
  expect(res.body.errors).toBeUndefined();
  return res.body.data?.createWebhookEndpoint as Created['createWebhookEndpoint'];
}

beforeAll(async () => {
  env = await createTestEnv();
  app = await startGraphqlApp(env, { lookup });
  const t = await createTenantWithMerchants(env.database.db, env.box, 0);
  tenantId = t.tenant.id;
  adminKey = (await app.services.tenants.createApiKey(tenantId, ['admin'])).key;
});

afterAll(async () => {
  await app?.close();
  await env?.cleanup();
});

describe('webhook endpoints', () => {
  it('creates an endpoint with a whsec_ secret shown once and stored sealed', async () => {
    const created = await create({ url: 'https://hooks.provider.example/wechat', kind: 'RELAY', events: ['component_verify_ticket', 'text'] });
    expect(created.userErrors).toEqual([]);
    expect(created.endpoint).toMatchObject({
      url: 'https://hooks.provider.example/wechat',
      kind: 'RELAY',
      events: ['component_verify_ticket', 'text'],
      enabled: true,
    });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(created.secret?.slice(6) ?? '', 'base64')).toHaveLength(32);
    const [row] = await env.database.db
      .select()
      .from(webhookEndpoints)
      .where(eq(webhookEndpoints.id, created.endpoint?.id ?? ''));
    expect(row?.secretEnc).not.toContain(created.secret?.slice(6, 20));
    expect(env.box.open(row?.secretEnc ?? '')).toBe(created.secret);

    const list = await app.request<{ webhookEndpoints: Record<string, unknown>[] }>('{ webhookEndpoints { id url kind events enabled } }', {}, adminKey);
    expect(list.body.data?.webhookEndpoints).toContainEqual({
      id: created.endpoint?.id,
      url: created.endpoint?.url,
      kind: 'RELAY',
      events: ['component_verify_ticket', 'text'],
      enabled: true,
    });
    expect(JSON.stringify(list.body)).not.toContain(created.secret);
  });

  it('stores `*`, an empty list or no events as "all types" (null)', async () => {
    for (const events of [['*'], [], null]) {
      const created = await create({ url: 'https://hooks.provider.example/all', kind: 'EVENTS', events });
      expect(created.endpoint?.events).toBeNull();
    }
  });

  it.each([
    ['not a URL', 'hooks.provider.example/wechat', 'This is not a URL.'],
    ['http', 'http://hooks.provider.example/wechat', 'uses http, not https'],
    ['ftp', 'ftp://hooks.provider.example/wechat', 'uses ftp'],
    ['loopback literal', 'https://127.0.0.1:8443/hook', '127.0.0.1, which is not a public address'],
    ['private literal', 'https://10.0.0.7/hook', '10.0.0.7, which is not a public address'],
    ['IPv6 loopback', 'https://[::1]/hook', '::1, which is not a public address'],
    ['IPv4-mapped loopback', 'https://[::ffff:127.0.0.1]/hook', 'which is not a public address'],
    ['cloud metadata by name', 'https://metadata.provider.example/latest', '169.254.169.254, which is not a public address'],
    ['a name with one private address among public ones', 'https://rebind.provider.example/hook', '10.1.2.3'],
    ['a name that does not resolve', 'https://nowhere.provider.example/hook', 'does not resolve'],
    ['credentials in the URL', 'https://user:pw@hooks.provider.example/hook', 'carries credentials'],
  ])('refuses %s with WEBHOOK_URL_NOT_ALLOWED, saying what to do', async (_label, url, reason) => {
    const created = await create({ url, kind: 'EVENTS' });
    expect(created.endpoint).toBeNull();
    expect(created.secret).toBeNull();
    expect(created.userErrors).toHaveLength(1);
    expect(created.userErrors[0]).toMatchObject({ code: 'WEBHOOK_URL_NOT_ALLOWED', field: ['input', 'url'] });
    expect(created.userErrors[0]?.message).toContain(reason);
    expect(created.userErrors[0]?.message).toContain('WEBHOOK_ALLOW_PRIVATE_ADDRESSES');
  });

  it('refuses an EVENTS filter naming a type the gateway does not send, and a RELAY filter that is not a type name', async () => {
    const events = await create({ url: 'https://hooks.provider.example/e', kind: 'EVENTS', events: ['application.updated', 'application.deleted'] });
    expect(events.userErrors).toMatchObject([{ code: 'INVALID_INPUT', field: ['input', 'events'] }]);
    expect(events.userErrors[0]?.message).toContain(
      '"application.deleted" is not one of application.updated, authorizer.updated, live_room.updated, live_goods.updated or *',
    );
    const relay = await create({ url: 'https://hooks.provider.example/r', kind: 'RELAY', events: ['text', 'drop table;'] });
    expect(relay.userErrors).toMatchObject([{ code: 'INVALID_INPUT' }]);
  });

  it('updates the URL, the filter and enabled; deletes; answers NOT_FOUND for ids it does not have', async () => {
    const created = await create({ url: 'https://hooks.provider.example/u', kind: 'EVENTS' });
    const id = created.endpoint?.id as string;
    const UPDATE = `mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) { endpoint { id url events enabled } userErrors { code } } }`;
    const updated = await app.request<{ updateWebhookEndpoint: unknown }>(
      UPDATE,
      { input: { id, url: 'https://hooks.provider.example/v2', events: ['application.updated'], enabled: false } },
      adminKey,
    );
    expect(updated.body.data?.updateWebhookEndpoint).toEqual({
      endpoint: { id, url: 'https://hooks.provider.example/v2', events: ['application.updated'], enabled: false },
      userErrors: [],
    });
    const refused = await app.request<{ updateWebhookEndpoint: unknown }>(UPDATE, { input: { id, url: 'https://10.0.0.1/' } }, adminKey);
    expect(refused.body.data?.updateWebhookEndpoint).toEqual({ endpoint: null, userErrors: [{ code: 'WEBHOOK_URL_NOT_ALLOWED' }] });
    const missing = await app.request<{ updateWebhookEndpoint: unknown }>(
      UPDATE,
      { input: { id: '00000000-0000-4000-8000-000000000000', enabled: true } },
      adminKey,
    );
    expect(missing.body.data?.updateWebhookEndpoint).toEqual({ endpoint: null, userErrors: [{ code: 'NOT_FOUND' }] });

    const DELETE = 'mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { deletedId userErrors { code } } }';
    expect((await app.request(DELETE, { id }, adminKey)).body.data).toEqual({ deleteWebhookEndpoint: { deletedId: id, userErrors: [] } });
    expect((await app.request(DELETE, { id }, adminKey)).body.data).toEqual({
      deleteWebhookEndpoint: { deletedId: null, userErrors: [{ code: 'NOT_FOUND' }] },
    });
    expect((await app.request(DELETE, { id: 'not-a-uuid' }, adminKey)).body.data).toEqual({
      deleteWebhookEndpoint: { deletedId: null, userErrors: [{ code: 'NOT_FOUND' }] },
    });
  });

  it('rotates the secret: a new one shown once, the old one kept (sealed) to sign for 24 hours', async () => {
    const created = await create({ url: 'https://hooks.provider.example/rot', kind: 'EVENTS' });
    const id = created.endpoint?.id as string;
    const ROTATE = 'mutation($id: ID!) { rotateWebhookEndpointSecret(id: $id) { endpoint { id } secret userErrors { code } } }';
    const res = await app.request<{ rotateWebhookEndpointSecret: { secret: string } }>(ROTATE, { id }, adminKey);
    const secret = res.body.data?.rotateWebhookEndpointSecret.secret as string;
    expect(secret).toMatch(/^whsec_/);
    expect(secret).not.toBe(created.secret);
    const [row] = await env.database.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
    expect(env.box.open(row?.secretEnc ?? '')).toBe(secret);
    expect(env.box.open(row?.previousSecretEnc ?? '')).toBe(created.secret);
    expect(row?.previousSecretExpiresAt?.getTime()).toBe(app.clock.now() + 24 * 3_600_000);
  });

  it('needs the admin scope: a write key gets FORBIDDEN naming it', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const res = await app.request(CREATE, { input: { url: 'https://hooks.provider.example/x', kind: 'EVENTS' } }, t.apiKey.key);
    expect(res.status).toBe(403);
    expect(JSON.stringify(res.body)).toContain('admin');
  });
});
