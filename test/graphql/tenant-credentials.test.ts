import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { SimulatorAdmin } from '../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../src/wechat/simulator/server.js';
import { MsgCrypt, msgSignature } from '../../src/wechat/wire/msg-crypt.js';
import { buildAuthXml } from '../../src/wechat/wire/push-xml.js';
import { randomEncodingAesKey } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { authUrl, nowSeconds, post, signedPush, startWebhookServer, type TenantKeys, type WebhookServer } from '../webhooks/webhook-harness.js';
import { createTenant, type TenantFixture } from '../wechat/support/fixtures.js';
import { type GraphqlApp, startGraphqlApp } from './support/graphql-harness.js';

const UPDATE = `mutation($input: UpdateTenantCredentialsInput!) {
  updateTenantCredentials(input: $input) { tenant { id } previousCredentialsAcceptedUntil userErrors { code field message } }
}`;

type UpdateAnswer = {
  updateTenantCredentials: {
    tenant: { id: string } | null;
    previousCredentialsAcceptedUntil: string | null;
    userErrors: { code: string; field: string[] | null; message: string }[];
  };
};

const MINUTE = 60_000;
const clock = new ManualClock(Date.now());
let env: TestEnv;
let sim: RunningSimulator;
let admin: SimulatorAdmin;
let app: GraphqlApp;
let server: WebhookServer;

beforeAll(async () => {
  env = await createTestEnv();
  sim = await startSimulator({ port: 0, clock });
  admin = new SimulatorAdmin(sim.url);
  app = await startGraphqlApp(env, { clock, wechatApiBase: sim.url });
  server = await startWebhookServer(env, { clock });
});

afterAll(async () => {
  await server?.close();
  await app?.close();
  await sim?.stop();
  await env?.cleanup();
});

function keysOf(t: Pick<TenantFixture, 'token' | 'encodingAesKey' | 'componentAppId'>): TenantKeys {
  return { token: t.token, encodingAesKey: t.encodingAesKey, componentAppId: t.componentAppId };
}

/** A component_verify_ticket push under `keys`, as WeChat sends it; answers the HTTP status and body. */
async function pushTicket(tenantId: string, keys: TenantKeys): Promise<{ status: number; text: string }> {
  const xml = buildAuthXml({ kind: 'component_verify_ticket', appId: keys.componentAppId, createTime: nowSeconds(clock), ticket: `ticket@@@${randomUUID()}` });
  return post(authUrl(server, tenantId), signedPush(keys, xml, clock));
}

/** The console's GET URL check: an encrypted echostr signed with the token. */
async function urlCheck(tenantId: string, keys: TenantKeys): Promise<{ status: number; text: string }> {
  const timestamp = nowSeconds(clock);
  const nonce = String(randomBytes(4).readUInt32BE());
  const echostr = new MsgCrypt({ token: keys.token, encodingAesKey: keys.encodingAesKey, appId: keys.componentAppId }).encrypt('echo-rotated');
  const query = new URLSearchParams({ timestamp, nonce, echostr, msg_signature: msgSignature(keys.token, timestamp, nonce, echostr) });
  const response = await fetch(`${authUrl(server, tenantId)}?${query.toString()}`);
  return { status: response.status, text: await response.text() };
}

async function adminKey(tenantId: string): Promise<string> {
  return (await app.services.tenants.createApiKey(tenantId, ['admin'])).key;
}

describe('updateTenantCredentials', () => {
  it('refuses a malformed token or EncodingAESKey, and an empty input, as INVALID_INPUT naming the field', async () => {
    const tenant = await createTenant(admin, env);
    const key = await adminKey(tenant.tenantId);
    const cases: [Record<string, string>, string[] | null][] = [
      [{ token: 'ab' }, ['input', 'token']],
      [{ token: 'has-dash' }, ['input', 'token']],
      [{ token: 'a'.repeat(33) }, ['input', 'token']],
      [{ encodingAesKey: randomEncodingAesKey().slice(0, 42) }, ['input', 'encodingAesKey']],
      [{ encodingAesKey: `${randomEncodingAesKey().slice(0, 42)}=` }, ['input', 'encodingAesKey']],
      [{}, null],
    ];
    for (const [input, field] of cases) {
      const res = await app.request<UpdateAnswer>(UPDATE, { input }, key);
      expect(res.body.data?.updateTenantCredentials).toMatchObject({ tenant: null, userErrors: [{ code: 'INVALID_INPUT', field }] });
    }
    // Nothing was changed: the push under the original keys still verifies, with no overlap window.
    expect(await app.services.tenants.crypto(tenant.tenantId)).toEqual({
      tenantId: tenant.tenantId,
      componentAppId: tenant.componentAppId,
      token: tenant.token,
      encodingAesKey: tenant.encodingAesKey,
    });
  });

  it('needs the admin scope: a write key gets FORBIDDEN', async () => {
    const tenant = await createTenant(admin, env);
    const write = (await app.services.tenants.createApiKey(tenant.tenantId, ['write'])).key;
    const res = await app.request<UpdateAnswer>(UPDATE, { input: { token: 'newtoken1' } }, write);
    expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
  });

  it('accepts pushes under the old and the new token and EncodingAESKey inside the window, then only the new', async () => {
    const tenant = await createTenant(admin, env);
    const old = keysOf(tenant);
    const fresh = { ...old, token: `tok${randomBytes(6).toString('hex')}`, encodingAesKey: randomEncodingAesKey() };
    // The receiver caches the old keys before the change.
    expect(await pushTicket(tenant.tenantId, old)).toEqual({ status: 200, text: 'success' });

    const res = await app.request<UpdateAnswer>(
      UPDATE,
      { input: { token: fresh.token, encodingAesKey: fresh.encodingAesKey } },
      await adminKey(tenant.tenantId),
    );
    expect(res.body.data?.updateTenantCredentials).toEqual({
      tenant: { id: tenant.tenantId },
      previousCredentialsAcceptedUntil: new Date(clock.now() + 60 * MINUTE).toISOString(),
      userErrors: [],
    });
    // Another instance changed them: the receiver's cached keys are older than the reload bound.
    clock.advance(2_000);
    expect(await pushTicket(tenant.tenantId, fresh)).toEqual({ status: 200, text: 'success' });
    expect(await pushTicket(tenant.tenantId, old)).toEqual({ status: 200, text: 'success' });
    // The console checks the URL with the new token and key before it saves them.
    expect(await urlCheck(tenant.tenantId, fresh)).toEqual({ status: 200, text: 'echo-rotated' });
    // WeChat may switch the token and the key at different moments.
    expect(await pushTicket(tenant.tenantId, { ...fresh, encodingAesKey: old.encodingAesKey })).toEqual({ status: 200, text: 'success' });
    expect(await pushTicket(tenant.tenantId, { ...old, encodingAesKey: fresh.encodingAesKey })).toEqual({ status: 200, text: 'success' });

    clock.advance(59 * MINUTE);
    expect(await pushTicket(tenant.tenantId, old)).toEqual({ status: 200, text: 'success' });
    clock.advance(MINUTE);
    expect(await pushTicket(tenant.tenantId, old)).toEqual({ status: 401, text: 'BAD_SIGNATURE' });
    expect(await urlCheck(tenant.tenantId, old)).toEqual({ status: 401, text: 'BAD_SIGNATURE' });
    expect(await pushTicket(tenant.tenantId, { ...fresh, encodingAesKey: old.encodingAesKey })).toMatchObject({ status: 401 });
    expect(await pushTicket(tenant.tenantId, fresh)).toEqual({ status: 200, text: 'success' });
    // Reloaded from Postgres too (a new instance, or after the cache's TTL), the old keys stay refused.
    server.webhooks.crypts.invalidate(tenant.tenantId);
    expect(await pushTicket(tenant.tenantId, old)).toEqual({ status: 401, text: 'BAD_SIGNATURE' });
    expect(await app.services.tenants.crypto(tenant.tenantId)).not.toHaveProperty('previous');
  });

  it('keeps only the values the last change replaced when a second change comes inside the window', async () => {
    const tenant = await createTenant(admin, env);
    const first = keysOf(tenant);
    const second = { ...first, token: 'secondtoken2' };
    const third = { ...first, token: 'thirdtoken3' };
    const key = await adminKey(tenant.tenantId);
    await app.request(UPDATE, { input: { token: second.token } }, key);
    clock.advance(10 * MINUTE);
    const res = await app.request<UpdateAnswer>(UPDATE, { input: { token: third.token } }, key);
    expect(res.body.data?.updateTenantCredentials.previousCredentialsAcceptedUntil).toBe(new Date(clock.now() + 60 * MINUTE).toISOString());
    server.webhooks.crypts.invalidate(tenant.tenantId);
    expect(await pushTicket(tenant.tenantId, third)).toEqual({ status: 200, text: 'success' });
    expect(await pushTicket(tenant.tenantId, second)).toEqual({ status: 200, text: 'success' });
    expect(await pushTicket(tenant.tenantId, first)).toEqual({ status: 401, text: 'BAD_SIGNATURE' });
  });

  it('after a new component AppSecret, the next component token is fetched with it', async () => {
    const tenant = await createTenant(admin, env);
    const before = await app.tokens.getComponentToken(tenant.tenantId);
    const calls = async () => (await admin.counters()).calls.api_component_token?.byAppId[tenant.componentAppId] ?? 0;
    expect(await calls()).toBe(1);
    // The console resets the secret: WeChat (the simulator) now refuses the old one with 40125.
    const secret = randomBytes(16).toString('hex');
    await admin.registerComponent({ ...keysOf(tenant), componentAppSecret: secret, ticket: tenant.ticket, authUrl: null, messageUrlTemplate: null });

    const res = await app.request<UpdateAnswer>(UPDATE, { input: { componentAppSecret: secret } }, await adminKey(tenant.tenantId));
    // The token and key did not change: no overlap window.
    expect(res.body.data?.updateTenantCredentials).toEqual({ tenant: { id: tenant.tenantId }, previousCredentialsAcceptedUntil: null, userErrors: [] });
    const after = await app.tokens.getComponentToken(tenant.tenantId);
    expect(after).not.toBe(before);
    expect(await calls()).toBe(2);
    expect(await app.services.credentials.getComponent(tenant.tenantId)).toEqual({ componentAppId: tenant.componentAppId, componentAppSecret: secret });
  });
});
