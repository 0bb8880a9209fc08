import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatorAdmin } from '../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../src/wechat/simulator/server.js';
import { randomAppId } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';
import type { CapturedLine } from '../security/support/log-capture.js';
import { authPath, type RealApp, startRealApp } from '../security/support/real-app.js';

/**
 * The log context (request id, tenant, application, job) on every line, through the logger's
 * mixin, and one access line per HTTP request: the real gateway against the WeChat simulator,
 * its lines captured in memory at debug level.
 */

let env: TestEnv;
let sim: RunningSimulator;
let admin: SimulatorAdmin;
let real: RealApp;
let tenant: Awaited<ReturnType<RealApp['tenant']>>;

const IMPORT = 'mutation($input: [ImportAuthorizerInput!]!) { importAuthorizers(input: $input) { results { appId userErrors { code } } } }';
const APPLY = 'mutation($input: ApplyLiveInput!) { applyLive(input: $input) { application { id } userErrors { code } } }';

beforeAll(async () => {
  env = await createTestEnv();
  sim = await startSimulator({ port: 0 });
  admin = new SimulatorAdmin(sim.url);
  real = await startRealApp(env, { WECHAT_API_BASE: sim.url });
  tenant = await real.tenant();
  await admin.registerComponent({
    componentAppId: tenant.input.componentAppId,
    componentAppSecret: tenant.input.componentAppSecret,
    token: tenant.input.token,
    encodingAesKey: tenant.input.encodingAesKey,
    authUrl: `${real.url}${authPath(tenant.id)}`,
    messageUrlTemplate: `${real.url}/webhooks/wechat/${tenant.id}/events/$APPID$`,
  });
});

afterAll(async () => {
  await real?.stop();
  await sim?.stop();
  await env?.cleanup();
});

const byMessage = (msg: string) => (l: CapturedLine) => l.entry.msg === msg;
const accessLines = () => real.logs.lines.filter(byMessage('http request'));

async function merchant(): Promise<string> {
  const appId = randomAppId();
  const refreshToken = `refresh-${randomBytes(6).toString('hex')}`;
  await admin.addAuthorizer({ componentAppId: tenant.input.componentAppId, appId, refreshToken });
  await admin.setBehaviour({ appId, scenario: { kind: 'accept' }, openAfterMs: null });
  const imported = await real.graphql(IMPORT, { input: [{ appId, refreshToken, permissionSets: [52] }] }, tenant.apiKey);
  expect(imported.body.errors).toBeUndefined();
  return appId;
}

async function apply(appId: string, requestId: string): Promise<string> {
  const res = await real.graphql<{ applyLive: { application: { id: string } | null } }>(APPLY, { input: { appId } }, tenant.apiKey, {
    'x-request-id': requestId,
  });
  const id = res.body.data?.applyLive.application?.id;
  if (!id) throw new Error(`applyLive answered ${res.text}`);
  return id;
}

describe('the log context on every line', () => {
  it('puts the push request id and the tenant on the lines of its answer and of its processing after the answer', async () => {
    const from = real.logs.lines.length;
    const ticket = await admin.issueTicket({ componentAppId: tenant.input.componentAppId });
    expect(ticket.push?.status).toBe(200);
    await real.app.webhooks?.drain();
    const lines = real.logs.since(from);
    const access = lines.find((l) => byMessage('http request')(l) && l.entry.route === '/webhooks/wechat/:tenantId/auth');
    const requestId = access?.entry.requestId;
    expect(requestId).toEqual(expect.any(String));
    const answered = lines.find(byMessage('webhook request answered'));
    expect(answered?.during?.requestId).toBe(requestId);
    expect(answered?.entry).toMatchObject({ requestId, tenantId: tenant.id });
    const processed = await expectEventually(() => {
      const line = real.logs.since(from).find(byMessage('webhook push processed'));
      if (!line) throw new Error('no processing line yet');
      return line;
    });
    // Written after the answer ended: from the context the push was stored in, not a router's.
    expect(processed.during).toBeUndefined();
    expect(processed.entry).toMatchObject({ requestId, tenantId: tenant.id });
  });

  it('puts the job, its application and tenant on every line a job writes, not only on WeChat calls', async () => {
    const appId = await merchant();
    // A WeChat-wide pause makes the job write a line of its own (the pause began).
    await admin.setLiveGrantsPaused(true);
    const from = real.logs.lines.length;
    const applicationId = await apply(appId, `log-${randomBytes(6).toString('hex')}`);
    const paused = await expectEventually(() => {
      const line = real.logs.since(from).find((l) => String(l.entry.msg).startsWith('WeChat grants no new live permissions'));
      if (!line) throw new Error('no pause line yet');
      return line;
    });
    expect(paused.entry).toMatchObject({ tenantId: tenant.id, applicationId, jobId: expect.any(String) });
    const call = real.logs.since(from).find((l) => (l.entry.wechat as { endpoint?: string } | undefined)?.endpoint === 'applyliveinfo');
    expect(call?.entry).toMatchObject({ tenantId: tenant.id, applicationId, jobId: paused.entry.jobId });
    await admin.setLiveGrantsPaused(false);
  });

  it('puts the request id on every line written while a request is handled, and the tenant once the key is known', async () => {
    const requestId = `log-${randomBytes(6).toString('hex')}`;
    const from = real.logs.lines.length;
    const appId = randomAppId();
    await admin.addAuthorizer({ componentAppId: tenant.input.componentAppId, appId, refreshToken: 'r' });
    // An authorization link needs a component token: WeChat calls made inside the request.
    const link = await real.graphql(
      'mutation { createAuthorizationLink(redirectUri: "https://console.example/done") { link { url } userErrors { code } } }',
      {},
      tenant.apiKey,
      { 'x-request-id': requestId },
    );
    expect(link.body.errors).toBeUndefined();
    const during = real.logs.since(from).filter((l) => l.during?.requestId === requestId);
    expect(during.length).toBeGreaterThan(0);
    for (const line of during) expect(line.entry).toMatchObject({ requestId, tenantId: tenant.id });
    // Every line the gateway wrote during any request so far carries that request's id.
    for (const line of real.logs.lines) if (line.during) expect(line.entry.requestId).toBe(line.during.requestId);
  });
});

describe('the access log', () => {
  it('writes one line per request with its method, route pattern, status, duration and request id, never the key', async () => {
    const requestId = `log-${randomBytes(6).toString('hex')}`;
    await real.graphql('{ tenant { id } }', {}, tenant.apiKey, { 'x-request-id': requestId });
    const line = await expectEventually(() => {
      const found = accessLines().filter((l) => l.entry.requestId === requestId);
      expect(found).toHaveLength(1);
      return found[0] as CapturedLine;
    });
    expect(line.entry).toMatchObject({ level: 30, method: 'POST', route: '/graphql', status: 200, durationMs: expect.any(Number) });
    expect(line.entry).not.toHaveProperty('aborted');
    expect(line.raw).not.toContain(tenant.apiKey);
    expect(line.raw.toLowerCase()).not.toContain('authorization');
    expect(line.raw.toLowerCase()).not.toContain('bearer');
  });

  it('names the route by its pattern, without the ids and signatures of the path and query, and unmatched paths by none', async () => {
    const requestId = `log-${randomBytes(6).toString('hex')}`;
    const nonce = randomBytes(8).toString('hex');
    const answer = await real.fetch(`${authPath(tenant.id)}?signature=${nonce}&timestamp=1&nonce=${nonce}`, {
      method: 'POST',
      headers: { 'x-request-id': requestId, 'content-type': 'text/xml' },
      body: '<xml></xml>',
    });
    expect(answer.status).toBeGreaterThanOrEqual(400);
    const line = await expectEventually(() => {
      const found = accessLines().find((l) => l.entry.requestId === requestId);
      if (!found) throw new Error('no access line yet');
      return found;
    });
    expect(line.entry).toMatchObject({ method: 'POST', route: '/webhooks/wechat/:tenantId/auth', status: answer.status });
    expect(line.raw).not.toContain(nonce);

    const missing = `log-${randomBytes(6).toString('hex')}`;
    expect((await real.fetch(`/nowhere/${tenant.id}`, { headers: { 'x-request-id': missing } })).status).toBe(404);
    const notFound = await expectEventually(() => {
      const found = accessLines().find((l) => l.entry.requestId === missing);
      if (!found) throw new Error('no access line yet');
      return found;
    });
    expect(notFound.entry).toMatchObject({ method: 'GET', route: null, status: 404 });
  });
});
