import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/app/create-app.js';
import { SimulatorAdmin } from '../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../src/wechat/simulator/server.js';
import { randomAppId } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';
import { authPath, type RealApp, startRealApp } from '../security/support/real-app.js';

/**
 * The compose split in one process: an API instance (ROLE=api) and a worker (ROLE=worker) on the
 * same Postgres and Redis, each scraped over HTTP. The worker serves its health and metrics on
 * METRICS_PORT; the API counts every GraphQL request, whichever path answered it.
 */

let env: TestEnv;
let sim: RunningSimulator;
let admin: SimulatorAdmin;
let api: RealApp;
let worker: App;
let tenant: Awaited<ReturnType<RealApp['tenant']>>;

const IMPORT = 'mutation($input: [ImportAuthorizerInput!]!) { importAuthorizers(input: $input) { results { appId userErrors { code } } } }';
const BATCH = 'mutation($appIds: [String!]!) { applyLiveBatch(appIds: $appIds) { results { appId userErrors { code } } } }';

beforeAll(async () => {
  env = await createTestEnv();
  sim = await startSimulator({ port: 0 });
  admin = new SimulatorAdmin(sim.url);
  api = await startRealApp(env, { ROLE: 'api', WECHAT_API_BASE: sim.url });
  worker = await createApp(env.config({ ROLE: 'worker', METRICS_PORT: '0', WECHAT_API_BASE: sim.url }), { migrate: false });
  // One applyliveinfo a day for this tenant: the second merchant's job waits for the quota.
  tenant = await api.tenant({ dailyQuotaPerTenant: 1 });
  await admin.registerComponent({
    componentAppId: tenant.input.componentAppId,
    componentAppSecret: tenant.input.componentAppSecret,
    token: tenant.input.token,
    encodingAesKey: tenant.input.encodingAesKey,
    authUrl: `${api.url}${authPath(tenant.id)}`,
    messageUrlTemplate: `${api.url}/webhooks/wechat/${tenant.id}/events/$APPID$`,
  });
  expect((await admin.issueTicket({ componentAppId: tenant.input.componentAppId })).push?.status).toBe(200);
  await api.app.webhooks?.drain();
});

afterAll(async () => {
  await worker?.stop();
  await api?.stop();
  await sim?.stop();
  await env?.cleanup();
});

/** The samples of a Prometheus text exposition, as name and labels. */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m?.[1] || m[3] === undefined) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) if (k !== undefined && v !== undefined) labels[k] = v;
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of the samples named `name` whose labels include `labels`. */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  return samples(text)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

async function scrape(baseUrl: string | undefined): Promise<string> {
  const res = await fetch(`${baseUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return res.text();
}

describe('a worker process', () => {
  it('serves /healthz, /readyz and /metrics on METRICS_PORT, and no API', async () => {
    expect(worker.url).toBeUndefined();
    expect(worker.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${worker.metricsUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${worker.metricsUrl}/readyz`);
    const body = (await ready.json()) as { status: string; checks: Record<string, { ok: boolean }> };
    expect(ready.status).toBe(200);
    expect(Object.keys(body.checks).sort()).toEqual(['migrations', 'postgres', 'redis', 'worker']);
    expect((await fetch(`${worker.metricsUrl}/graphql`, { method: 'POST' })).status).toBe(404);
  });

  it('names the default process metrics as everyone else does', async () => {
    for (const text of [await scrape(worker.metricsUrl), await scrape(api.url)]) {
      expect(text).toMatch(/^process_cpu_seconds_total \d/m);
      expect(text).toContain('nodejs_eventloop_lag_seconds');
      expect(text).not.toContain('wxlive_process_');
    }
  });

  it('counts its applyliveinfo calls, their latency, token refreshes and quota waits', async () => {
    const appIds = [randomAppId(), randomAppId()];
    for (const appId of appIds) {
      const refreshToken = `refresh-${randomBytes(6).toString('hex')}`;
      await admin.addAuthorizer({ componentAppId: tenant.input.componentAppId, appId, refreshToken });
      await admin.setBehaviour({ appId, scenario: { kind: 'accept' }, openAfterMs: null });
      const imported = await api.graphql(IMPORT, { input: [{ appId, refreshToken, permissionSets: [52] }] }, tenant.apiKey);
      expect(imported.body.errors).toBeUndefined();
    }
    const applied = await api.graphql(BATCH, { appIds }, tenant.apiKey);
    expect(applied.body.errors).toBeUndefined();

    const text = await expectEventually(async () => {
      const t = await scrape(worker.metricsUrl);
      expect(value(t, 'wxlive_wechat_calls_total', { endpoint: 'applyliveinfo', outcome: 'ok' })).toBe(1);
      expect(value(t, 'wxlive_apply_waits_total', { reason: 'TENANT_DAILY' })).toBeGreaterThanOrEqual(1);
      return t;
    });
    expect(value(text, 'wxlive_wechat_call_seconds_count', { endpoint: 'applyliveinfo' })).toBe(1);
    expect(value(text, 'wxlive_token_refreshes_total', { kind: 'component' })).toBeGreaterThanOrEqual(1);
    expect(value(text, 'wxlive_token_refreshes_total', { kind: 'authorizer' })).toBeGreaterThanOrEqual(1);
    // The API made no applyliveinfo call: the worker's figures are its own, scraped from its own port.
    expect(value(await scrape(api.url), 'wxlive_wechat_calls_total', { endpoint: 'applyliveinfo' })).toBe(0);
    // What WeChat saw: the one call the worker counted.
    expect((await admin.counters()).calls.applyliveinfo?.total).toBe(1);
  });
});

describe('GraphQL request metrics', () => {
  const tenantLabel = () => ({ tenant: tenant.id });

  it('counts every request once, by type, tenant and outcome, the fast path included', async () => {
    const before = await scrape(api.url);
    const query = `{ tenant { id } }`;
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await api.graphql(query, {}, tenant.apiKey));
    for (const a of answers) expect(a.body.errors).toBeUndefined();
    const mutation = await api.graphql(IMPORT, { input: [] }, tenant.apiKey);
    expect(mutation.status).toBe(200);
    const after = await scrape(api.url);
    const delta = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
    expect(delta('wxlive_graphql_requests_total', { type: 'query', outcome: 'ok', ...tenantLabel() })).toBe(4);
    expect(delta('wxlive_graphql_request_seconds_count', { type: 'query' })).toBe(4);
    expect(delta('wxlive_graphql_requests_total', { type: 'mutation', ...tenantLabel() })).toBe(1);
  });

  it('counts refused requests and errors by the code the client saw', async () => {
    const before = await scrape(api.url);
    const unauthenticated = await api.graphql('{ tenant { id } }', {}, 'not-a-key');
    expect(unauthenticated.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const invalid = await api.graphql('{ tenant { noSuchField } }', {}, tenant.apiKey);
    expect(invalid.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const after = await scrape(api.url);
    const delta = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
    expect(delta('wxlive_graphql_errors_total', { code: 'UNAUTHENTICATED' })).toBe(1);
    expect(delta('wxlive_graphql_errors_total', { code: 'GRAPHQL_VALIDATION_FAILED' })).toBe(1);
    expect(delta('wxlive_graphql_requests_total', { type: 'none', tenant: '', outcome: 'error' })).toBe(1);
    expect(delta('wxlive_graphql_requests_total', { type: 'none', outcome: 'error', ...tenantLabel() })).toBe(1);
    expect(delta('wxlive_graphql_requests_total', { outcome: 'ok' })).toBe(0);
  });
});
