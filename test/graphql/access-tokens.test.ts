import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatorAdmin } from '../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../src/wechat/simulator/server.js';
import { buildAuthXml } from '../../src/wechat/wire/push-xml.js';
import { authPath, type GraphqlAnswer, postPush, type RealApp, startRealApp, wechatPush } from '../security/support/real-app.js';
import { createTenantWithMerchants, randomAppId } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';

/**
 * The token service over HTTP, on two real gateway instances sharing Postgres and Redis, with
 * WeChat as the simulator: what a provider's other backends get, and what WeChat saw of it.
 */

let env: TestEnv;
let sim: RunningSimulator;
let admin: SimulatorAdmin;
/** Two API instances, as behind a load balancer. */
let instances: [RealApp, RealApp];
let tenant: Awaited<ReturnType<RealApp['tenant']>>;
let tokenKey: { key: string; id: string };
/** Merchants known to WeChat and imported by the tenant. */
let merchant: string;
let revoked: string;
/** Imported by the tenant, but WeChat has never seen it authorize the component. */
let neverAuthorized: string;
/** Every access token the simulator issued. */
const issued: string[] = [];

const COMPONENT = 'query($rejected: String) { componentAccessToken(rejectedToken: $rejected) { token expiresAt } }';
const AUTHORIZER = 'query($appId: String!, $rejected: String) { authorizerAccessToken(appId: $appId, rejectedToken: $rejected) { token expiresAt } }';
const IMPORT = 'mutation($input: [ImportAuthorizerInput!]!) { importAuthorizers(input: $input) { results { userErrors { code } } } }';

type Token = { token: string; expiresAt: string };

beforeAll(async () => {
  env = await createTestEnv();
  sim = await startSimulator({ port: 0 });
  const issue = sim.state.issueToken.bind(sim.state);
  sim.state.issueToken = (...args) => {
    const token = issue(...args);
    issued.push(token.token);
    return token;
  };
  admin = new SimulatorAdmin(sim.url);
  // The fans send over a hundred reads with one key within a second or two, back to back: this
  // file tests tokens, not the per-key rate limit (test/e2e/rate-limits.test.ts), so the bucket is large.
  const overrides = { WECHAT_API_BASE: sim.url, ROLE: 'api', RATE_LIMIT_BURST: '1000' };
  instances = [await startRealApp(env, overrides), await startRealApp(env, overrides)];
  const [first] = instances;
  tenant = await first.tenant();
  const created = await first.app.services.tenants.createApiKey(tenant.id, ['token']);
  tokenKey = { key: created.key, id: created.id };

  // WeChat knows the component and pushes its ticket to the gateway, as in production.
  await admin.registerComponent({ ...tenant.input, authUrl: `${first.url}${authPath(tenant.id)}`, messageUrlTemplate: null });
  const ticket = await admin.issueTicket({ componentAppId: tenant.keys.componentAppId });
  expect(ticket.push?.status).toBe(200);
  await first.app.webhooks?.drain();

  merchant = randomAppId();
  revoked = randomAppId();
  neverAuthorized = randomAppId();
  const input = [];
  for (const appId of [merchant, revoked]) {
    const { refreshToken } = await admin.addAuthorizer({ componentAppId: tenant.keys.componentAppId, appId });
    input.push({ appId, refreshToken, permissionSets: [52] });
  }
  input.push({ appId: neverAuthorized, refreshToken: 'refresh-token-wechat-never-issued', permissionSets: [52] });
  const imported = await first.graphql<{ importAuthorizers: { results: { userErrors: unknown[] }[] } }>(IMPORT, { input }, tenant.apiKey);
  expect(imported.body.data?.importAuthorizers.results.flatMap((r) => r.userErrors)).toEqual([]);

  // The merchant revokes the provider: WeChat's unauthorized push.
  const xml = buildAuthXml({
    kind: 'unauthorized',
    appId: tenant.keys.componentAppId,
    createTime: String(Math.floor(Date.now() / 1000)),
    authorizerAppId: revoked,
  });
  expect((await postPush(first, authPath(tenant.id), wechatPush(tenant.keys, xml))).status).toBe(200);
  await first.app.webhooks?.drain();
  await expectEventually(async () => {
    const res = await first.graphql<{ authorizer: { status: string } }>(
      'query($a: String!) { authorizer(appId: $a) { status } }',
      { a: revoked },
      tenant.apiKey,
    );
    expect(res.body.data?.authorizer.status).toBe('REVOKED');
  });
});

afterAll(async () => {
  await Promise.all((instances ?? []).map((i) => i?.stop()));
  await sim?.stop();
  await env?.cleanup();
});

async function calls(endpoint: 'api_component_token' | 'api_authorizer_token', appId: string): Promise<number> {
  return (await admin.counters()).calls[endpoint]?.byAppId[appId] ?? 0;
}

function codes(answer: GraphqlAnswer<unknown>): string[] {
  return (answer.body.errors ?? []).map((e) => e.extensions?.code ?? '');
}

/** `n` concurrent requests, alternating between the two instances. */
function fan<T>(n: number, query: string, variables: Record<string, unknown>): Promise<GraphqlAnswer<T>[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => instances[i % 2]?.graphql<T>(query, variables, tokenKey.key) as Promise<GraphqlAnswer<T>>));
}

describe('tokens for the provider’s other backends', () => {
  it('answers a token key the component token WeChat issued, and serves later reads from the cache', async () => {
    const first = await instances[0].graphql<{ componentAccessToken: Token }>(COMPONENT, {}, tokenKey.key);
    expect(first.status).toBe(200);
    const { token, expiresAt } = first.body.data?.componentAccessToken ?? { token: '', expiresAt: '' };
    expect(sim.state.checkToken(token, 'component').ok).toBe(true);
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(7000 * 1000);
    expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(7200 * 1000);
    const again = await fan<{ componentAccessToken: Token }>(10, COMPONENT, {});
    expect(new Set(again.map((a) => a.body.data?.componentAccessToken.token))).toEqual(new Set([token]));
    expect(await calls('api_component_token', tenant.keys.componentAppId)).toBe(1);
  });

  it("answers a merchant's authorizer token, refreshed once and then read from the cache by both instances", async () => {
    const answers = await fan<{ authorizerAccessToken: Token }>(10, AUTHORIZER, { appId: merchant });
    const tokens = new Set(answers.map((a) => a.body.data?.authorizerAccessToken.token));
    expect(tokens.size).toBe(1);
    const [token] = [...tokens] as [string];
    expect(sim.state.checkToken(token, 'authorizer').ok).toBe(true);
    expect(await calls('api_authorizer_token', merchant)).toBe(1);
  });

  for (const kind of ['authorizer', 'component'] as const) {
    it(`refreshes the ${kind} token once when 50 callers on two instances report the current one as rejected`, async () => {
      const endpoint = kind === 'component' ? 'api_component_token' : 'api_authorizer_token';
      const counted = kind === 'component' ? tenant.keys.componentAppId : merchant;
      const query = kind === 'component' ? COMPONENT : AUTHORIZER;
      const field = kind === 'component' ? 'componentAccessToken' : 'authorizerAccessToken';
      const vars = kind === 'component' ? {} : { appId: merchant };
      const current = (await instances[0].graphql<Record<string, Token>>(query, vars, tokenKey.key)).body.data?.[field]?.token as string;
      // WeChat stops accepting it (the callers got 40001 with it); a slow refresh keeps the callers overlapping.
      await admin.invalidateTokens({ kind, ...(kind === 'component' ? { componentAppId: counted } : { appId: merchant }) });
      const before = await calls(endpoint, counted);
      await admin.updateSettings({ delaysMs: { [endpoint]: 150 } });
      let answers: GraphqlAnswer<Record<string, Token>>[];
      try {
        answers = await fan<Record<string, Token>>(50, query, { ...vars, rejected: current });
      } finally {
        await admin.updateSettings({ delaysMs: {} });
      }
      expect(answers.flatMap(codes)).toEqual([]);
      const fresh = new Set(answers.map((a) => a.body.data?.[field]?.token));
      expect(fresh.size).toBe(1);
      const [next] = [...fresh] as [string];
      expect(next).not.toBe(current);
      expect(sim.state.checkToken(next, kind).ok).toBe(true);
      expect(await calls(endpoint, counted)).toBe(before + 1);

      // Reporting the old token again changes nothing: the current one, no refresh.
      const stale = await fan<Record<string, Token>>(10, query, { ...vars, rejected: current });
      expect(new Set(stale.map((a) => a.body.data?.[field]?.token))).toEqual(new Set([next]));
      const unknown = await instances[1].graphql<Record<string, Token>>(query, { ...vars, rejected: 'not-a-token-anyone-was-given' }, tokenKey.key);
      expect(unknown.body.data?.[field]?.token).toBe(next);
      expect(await calls(endpoint, counted)).toBe(before + 1);
    });
  }

  it("answers NOT_FOUND for another tenant's merchant and an app id never imported, without calling WeChat", async () => {
    const other = await createTenantWithMerchants(env.database.db, env.box, 1);
    const before = (await admin.counters()).calls.api_authorizer_token?.total ?? 0;
    for (const appId of [other.appIds[0] as string, randomAppId()]) {
      const res = await instances[0].graphql(AUTHORIZER, { appId }, tokenKey.key);
      expect({ status: res.status, codes: codes(res), data: res.body.data }).toEqual({ status: 200, codes: ['NOT_FOUND'], data: null });
    }
    expect((await admin.counters()).calls.api_authorizer_token?.total ?? 0).toBe(before);
  });

  it('answers AUTHORIZER_REVOKED for a merchant that revoked, without calling WeChat', async () => {
    const res = await instances[1].graphql(AUTHORIZER, { appId: revoked }, tokenKey.key);
    expect(codes(res)).toEqual(['AUTHORIZER_REVOKED']);
    expect(res.body.data).toBeNull();
    expect(await calls('api_authorizer_token', revoked)).toBe(0);
  });

  it('answers AUTHORIZER_NOT_FOUND for an imported merchant WeChat says never authorized the component', async () => {
    const res = await instances[0].graphql(AUTHORIZER, { appId: neverAuthorized }, tokenKey.key);
    expect(codes(res)).toEqual(['AUTHORIZER_NOT_FOUND']);
    expect(res.body.errors?.[0]?.message).toContain('61003');
    expect(await calls('api_authorizer_token', neverAuthorized)).toBe(1);
  });

  it('answers INVALID_APP_ID for something that is not an app id', async () => {
    expect(codes(await instances[0].graphql(AUTHORIZER, { appId: 'merchant-1' }, tokenKey.key))).toEqual(['INVALID_APP_ID']);
  });

  it('counts every read in the metrics by API key id and outcome, never by token', async () => {
    const res = await instances[0].fetch('/metrics');
    const line = (kind: string, outcome: string) =>
      new RegExp(`^wxlive_token_reads_total\\{key_id="${tokenKey.id}",kind="${kind}",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(res.text)?.[1];
    // Instance 0 served half of every fan, and the single reads sent to it.
    expect(Number(line('authorizer', 'current'))).toBeGreaterThanOrEqual(5);
    expect(Number(line('authorizer', 'rejected'))).toBeGreaterThanOrEqual(25);
    expect(Number(line('component', 'rejected'))).toBeGreaterThanOrEqual(25);
    expect(Number(line('authorizer', 'failed'))).toBeGreaterThanOrEqual(3);
    for (const token of issued) expect(res.text).not.toContain(token);
  });

  it('wrote no token to any log line of either instance', () => {
    expect(issued.length).toBeGreaterThanOrEqual(4);
    const lines = instances.flatMap((i) => i.logs.lines);
    expect(lines.length).toBeGreaterThan(10);
    const found = issued.flatMap((token) => lines.filter((l) => l.raw.includes(token)).map((l) => ({ token, line: l.raw })));
    expect(found).toEqual([]);
  });
});
