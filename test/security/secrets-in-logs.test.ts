import { randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { liveApplications } from '../../src/db/tables.js';
import { systemContext } from '../../src/services/context.js';
import { SimulatorAdmin } from '../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../src/wechat/simulator/server.js';
import { MsgCrypt, plainSignature } from '../../src/wechat/wire/msg-crypt.js';
import { collect, wsOnce } from '../graphql/support/graphql-harness.js';
import { randomAppId, randomEncodingAesKey } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';
import type { CapturedLine } from './support/log-capture.js';
import { authPath, type GraphqlAnswer, postPush, type RealApp, startRealApp, ticketXml, wechatPush } from './support/real-app.js';

/**
 * One run of the real gateway against the WeChat simulator that touches every secret it holds:
 * tickets pushed and stored, component and authorizer tokens issued, refreshed after WeChat
 * invalidated them, rotated refresh tokens, an authorization code exchanged, failing WeChat calls,
 * refused webhooks and GraphQL errors. Then every log line (debug level) and every answer a client
 * got is searched for every secret.
 */

let env: TestEnv;
let sim: RunningSimulator;
let admin: SimulatorAdmin;
let real: RealApp;
let tenant: Awaited<ReturnType<RealApp['tenant']>>;
let readKey: string;
let revokedKey: string;
/** Every access token the simulator issued (its state forgets invalidated ones). */
const issuedTokens: string[] = [];
/** Secrets the test itself made up or was given. */
const knownSecrets: string[] = [];
/** What clients saw over WebSocket. */
const wsAnswers: string[] = [];
/** Request id → the tenant the request authenticated as (undefined: it did not). */
const graphqlRequests = new Map<string, string | undefined>();

const merchants = {
  opens: randomAppId(),
  notPaid: randomAppId(),
  staleToken: randomAppId(),
  http500: randomAppId(),
  slow: randomAppId(),
  wrongRefresh: randomAppId(),
  rotating: randomAppId(),
  authorizedByPush: randomAppId(),
};

const marker = () => randomBytes(12).toString('hex');

beforeAll(async () => {
  env = await createTestEnv();
  sim = await startSimulator({ port: 0 });
  const issue = sim.state.issueToken.bind(sim.state);
  sim.state.issueToken = (...args) => {
    const issued = issue(...args);
    issuedTokens.push(issued.token);
    return issued;
  };
  admin = new SimulatorAdmin(sim.url);
  real = await startRealApp(env, {
    WECHAT_API_BASE: sim.url,
    WECHAT_TIMEOUT_MS: '400',
    APPLY_BACKOFF_MS: '20',
    APPLY_MAX_ATTEMPTS: '2',
  });
  tenant = await real.tenant({
    componentAppSecret: `component-secret-${marker()}`,
    token: `msgtoken${marker()}`,
    encodingAesKey: randomEncodingAesKey(),
  });
  readKey = (await real.app.services.tenants.createApiKey(tenant.id, ['read'])).key;
  const revoked = await real.app.services.tenants.createApiKey(tenant.id, ['write']);
  await real.app.services.tenants.revokeApiKey(tenant.id, revoked.id);
  revokedKey = revoked.key;
  knownSecrets.push(tenant.input.componentAppSecret, tenant.input.token, tenant.input.encodingAesKey, tenant.apiKey, readKey, revokedKey);
  knownSecrets.push(env.secretKey.toString('base64'), env.secretKey.toString('hex'));
});

afterAll(async () => {
  await real?.stop();
  await sim?.stop();
  await env?.cleanup();
});

/** A GraphQL request with its own request id, remembered with the tenant it should log as. */
async function gql<T = Record<string, unknown>>(query: string, variables: Record<string, unknown>, key: string | null, tenantId?: string) {
  const requestId = `sec-${marker()}`;
  graphqlRequests.set(requestId, tenantId);
  return real.graphql<T>(query, variables, key, { 'x-request-id': requestId }) as Promise<GraphqlAnswer<T>>;
}

const IMPORT = 'mutation($input: [ImportAuthorizerInput!]!) { importAuthorizers(input: $input) { results { appId userErrors { code } } userErrors { code } } }';
const BATCH = 'mutation($appIds: [String!]!) { applyLiveBatch(appIds: $appIds) { results { appId application { id } userErrors { code } } } }';
const LINK = 'mutation($uri: String!) { createAuthorizationLink(redirectUri: $uri) { link { url } userErrors { code message } } }';

async function statuses(): Promise<Record<string, string>> {
  const rows = await env.database.db.select().from(liveApplications).where(eq(liveApplications.tenantId, tenant.id));
  return Object.fromEntries(rows.map((r) => [r.appId, r.status]));
}

describe('a run that touches every secret', () => {
  it('gets its component_verify_ticket pushed and stored, and the merchants registered with WeChat', async () => {
    await admin.registerComponent({
      componentAppId: tenant.input.componentAppId,
      componentAppSecret: tenant.input.componentAppSecret,
      token: tenant.input.token,
      encodingAesKey: tenant.input.encodingAesKey,
      authUrl: `${real.url}${authPath(tenant.id)}`,
      messageUrlTemplate: `${real.url}/webhooks/wechat/${tenant.id}/events/$APPID$`,
    });
    const ticket = await admin.issueTicket({ componentAppId: tenant.input.componentAppId, ticket: `ticket@@@${marker()}` });
    expect(ticket.push?.status).toBe(200);
    knownSecrets.push(ticket.ticket);
    await real.app.webhooks?.drain();

    const scenarios: [string, Parameters<SimulatorAdmin['setBehaviour']>[0]['scenario'], number | null][] = [
      [merchants.opens, { kind: 'accept' }, 100],
      [merchants.notPaid, { kind: 'not_paid' }, null],
      [merchants.staleToken, { kind: 'errcode', errcode: 40001, times: 1 }, null],
      [merchants.http500, { kind: 'http500' }, null],
      [merchants.slow, { kind: 'slow', delayMs: 1000, inner: { kind: 'accept' } }, null],
      [merchants.wrongRefresh, { kind: 'accept' }, null],
      [merchants.rotating, { kind: 'accept' }, null],
    ];
    for (const [appId, scenario, openAfterMs] of scenarios) {
      const refreshToken = `refresh-${marker()}`;
      await admin.addAuthorizer({ componentAppId: tenant.input.componentAppId, appId, refreshToken, rotateRefreshToken: appId === merchants.rotating });
      await admin.setBehaviour({ appId, scenario, openAfterMs });
      // The gateway is given a refresh token WeChat does not know for one merchant (61023).
      const imported = appId === merchants.wrongRefresh ? `wrong-refresh-${marker()}` : refreshToken;
      knownSecrets.push(refreshToken, imported);
      const res = await gql(IMPORT, { input: [{ appId, refreshToken: imported, permissionSets: [52] }] }, tenant.apiKey, tenant.id);
      expect(res.body.errors).toBeUndefined();
    }
  });

  it('applies for every merchant and lets the worker refresh tokens, retry and fail', async () => {
    const subscription = createClient({
      url: `${real.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${readKey}` },
      retryAttempts: 0,
      lazy: true,
    });
    const updates = collect(subscription, 'subscription { liveApplicationUpdated { appId status errcode errmsg errorCode history { message } } }');
    // WeChat forgets every token it issued: the first calls after this refresh them.
    await admin.invalidateTokens({});
    const appIds = Object.values(merchants).filter((m) => m !== merchants.authorizedByPush);
    const res = await gql<{ applyLiveBatch: { results: { userErrors: unknown[] }[] } }>(BATCH, { appIds }, tenant.apiKey, tenant.id);
    expect(res.body.data?.applyLiveBatch.results.flatMap((r) => r.userErrors)).toEqual([]);
    await expectEventually(
      async () =>
        expect(await statuses()).toEqual({
          [merchants.opens]: 'OPENED',
          [merchants.notPaid]: 'REJECTED',
          [merchants.staleToken]: 'SUBMITTED',
          [merchants.http500]: 'FAILED',
          [merchants.slow]: expect.stringMatching(/^(FAILED|SUBMITTED)$/),
          [merchants.wrongRefresh]: 'FAILED',
          [merchants.rotating]: 'SUBMITTED',
        }),
      { timeoutMs: 20_000 },
    );
    await expectEventually(() => expect(updates.results.length).toBeGreaterThanOrEqual(14));
    wsAnswers.push(JSON.stringify(updates.results));
    updates.dispose();
    await subscription.dispose();
  });

  it('makes an authorization link with a refreshed component token, and takes an authorized push', async () => {
    await admin.invalidateTokens({ kind: 'component' });
    const link = await gql<{ createAuthorizationLink: { link: { url: string } | null } }>(
      LINK,
      { uri: 'https://console.example/done' },
      tenant.apiKey,
      tenant.id,
    );
    expect(link.body.data?.createAuthorizationLink.link?.url).toMatch(/pre_auth_code=/);
    const code = await admin.createAuthCode({ componentAppId: tenant.input.componentAppId, appId: merchants.authorizedByPush, push: true });
    expect(code.push?.status).toBe(200);
    knownSecrets.push(code.authorizationCode);
    await real.app.webhooks?.drain();
    await expectEventually(async () =>
      expect((await real.app.services.authorizers.get(systemContext(tenant.id), merchants.authorizedByPush))?.status).toBe('AUTHORIZED'),
    );
  });

  it('answers refused webhooks, failing GraphQL requests and internal errors', async () => {
    const keys = { ...tenant.keys };
    const forged = wechatPush({ ...keys, token: 'not-the-token' }, ticketXml(keys.componentAppId));
    expect((await postPush(real, authPath(tenant.id), forged)).status).toBe(401);
    expect((await postPush(real, authPath(tenant.id), wechatPush(keys, ticketXml(keys.componentAppId), { receiveId: randomAppId() }))).status).toBe(401);
    expect((await postPush(real, authPath(tenant.id), wechatPush(keys, '<xml><InfoType>authorized</InfoType>'))).status).toBe(400);
    // Postgres refusing the inbox insert: 503, with the decrypted push (a ticket) in the failed query.
    await env.database.db.execute(
      sql.raw("alter table webhook_inbox add constraint security_test_refuse check (event_type <> 'component_verify_ticket') not valid"),
    );
    try {
      const ticket = `ticket@@@${marker()}`;
      knownSecrets.push(ticket);
      expect((await postPush(real, authPath(tenant.id), wechatPush(keys, ticketXml(keys.componentAppId, ticket)))).status).toBe(503);
    } finally {
      await env.database.db.execute(sql.raw('alter table webhook_inbox drop constraint security_test_refuse'));
    }
    const timestamp = String(Math.floor(Date.now() / 1000));
    const echostr = new MsgCrypt({ token: keys.token, encodingAesKey: keys.encodingAesKey, appId: keys.componentAppId }).encrypt(`echo-${marker()}`);
    const badEcho = new URLSearchParams({
      timestamp,
      nonce: '1',
      echostr,
      msg_signature: 'f'.repeat(40),
      signature: plainSignature(keys.token, timestamp, '1'),
    });
    expect((await real.fetch(`${authPath(tenant.id)}?${badEcho}`)).status).toBe(401);

    expect((await gql('{ tenant { id } }', {}, revokedKey)).status).toBe(401);
    expect((await gql('{ tenant { id } }', {}, `wxl_${marker()}_${marker()}`)).status).toBe(401);
    expect((await gql('{ tenant { id ', {}, tenant.apiKey, tenant.id)).status).toBe(400);
    expect((await gql(IMPORT, { input: [{ appId: 17, refreshToken: knownSecrets[0] }] }, tenant.apiKey, tenant.id)).status).toBe(400);
    expect((await gql(IMPORT, { input: [{ appId: merchants.opens, refreshToken: 'x' }] }, readKey, tenant.id)).status).toBe(403);
    // Postgres failing a read: internal errors, masked for the client and logged with the failed query.
    const ws = createClient({
      url: `${real.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${tenant.apiKey}` },
      retryAttempts: 0,
      lazy: true,
    });
    const AUTHORIZERS = '{ authorizers { edges { node { appId } } } }';
    await env.database.db.execute(sql.raw('alter table authorizers rename to authorizers_hidden_by_test'));
    try {
      const internal = await gql(AUTHORIZERS, {}, tenant.apiKey, tenant.id);
      expect(internal.body.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      const overWs = await wsOnce(ws, AUTHORIZERS);
      expect(overWs.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      wsAnswers.push(JSON.stringify(overWs));
    } finally {
      await env.database.db.execute(sql.raw('alter table authorizers_hidden_by_test rename to authorizers'));
    }
    wsAnswers.push(JSON.stringify(await wsOnce(ws, '{ quota(appId: "nope") { used } }')));
    await ws.dispose();
    for (const path of ['/metrics', '/readyz', '/healthz']) expect((await real.fetch(path)).status).toBeLessThan(600);
  });
});

describe('what the run left in logs and answers', () => {
  function secrets(): string[] {
    const refreshTokens = [...sim.state.authorizers.values()].map((a) => a.refreshToken);
    const tickets = [...sim.state.components.values()].map((c) => c.ticket);
    return [...new Set([...knownSecrets, ...issuedTokens, ...refreshTokens, ...tickets])].filter((s) => s.length >= 8);
  }

  it('issued, refreshed and rotated tokens during the run (so the scan below means something)', () => {
    expect(issuedTokens.filter((t) => t.startsWith('ctk_')).length).toBeGreaterThanOrEqual(2);
    expect(issuedTokens.filter((t) => t.startsWith('atk_')).length).toBeGreaterThanOrEqual(5);
    expect([...sim.state.authorizers.values()].find((a) => a.appId === merchants.rotating)?.refreshToken).toMatch(/^refreshtoken@@@/);
    expect(real.logs.lines.length).toBeGreaterThan(30);
    expect(real.logs.lines.some((l) => l.entry.level === 20)).toBe(true);
  });

  it('wrote no secret to any log line', () => {
    const found = secrets().flatMap((secret) =>
      real.logs.lines.filter((l) => l.raw.includes(secret) || l.raw.includes(encodeURIComponent(secret))).map((l) => ({ secret, line: l.raw })),
    );
    expect(found).toEqual([]);
  });

  it('sent no secret to any client, in any answer or error', () => {
    const answers = [...real.answers.map((a) => a.text), ...wsAnswers];
    expect(answers.length).toBeGreaterThan(20);
    const found = secrets().flatMap((secret) => answers.filter((text) => text.includes(secret)).map((text) => ({ secret, answer: text.slice(0, 300) })));
    expect(found).toEqual([]);
  });

  /**
   * Known gap, reported: the WeChat layer logs with the app's logger and is given a tenant id, not
   * the request's context, so the calls createAuthorizationLink makes inside a request (a token
   * refresh, the pre-auth code) carry neither requestId nor tenantId. Every other line must.
   */
  const fromWechatLayer = (line: CapturedLine) => line.entry.component === 'wechat';

  it('tagged every line written while handling an HTTP request with its requestId', () => {
    const during = real.logs.lines.filter((l) => l.during && !fromWechatLayer(l));
    expect(new Set(during.map((l) => l.during?.path.split('/')[1]))).toEqual(new Set(['graphql', 'webhooks']));
    const untagged = during.filter((l) => l.entry.requestId !== l.during?.requestId).map((l) => ({ path: l.during?.path, line: l.raw }));
    expect(untagged).toEqual([]);
  });

  it('tagged every line of an authenticated GraphQL request with its tenantId', () => {
    const lines = real.logs.lines.filter((l) => l.during?.path === '/graphql' && graphqlRequests.get(l.during.requestId) !== undefined && !fromWechatLayer(l));
    expect(lines.length).toBeGreaterThan(0);
    const wrong = lines.filter((l) => l.entry.tenantId !== graphqlRequests.get(l.during?.requestId ?? '')).map((l) => l.raw);
    expect(wrong).toEqual([]);
  });

  it('tagged the WebSocket operation lines with requestId and tenantId', () => {
    const lines = real.logs.lines.filter((l) => String(l.entry.msg).includes('over WebSocket'));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => typeof l.entry.requestId !== 'string' || l.entry.tenantId !== tenant.id).map((l) => l.raw)).toEqual([]);
  });
});
