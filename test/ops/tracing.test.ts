import { randomBytes } from 'node:crypto';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveApplications } from '../../src/db/tables.js';
import { SimulatorAdmin } from '../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../src/wechat/simulator/server.js';
import { randomAppId } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';
import { authPath, type RealApp, startRealApp } from '../security/support/real-app.js';

/**
 * One trace from applyLive to the WeChat call: the real gateway (API and worker in one process)
 * with an SDK of the test's own, exporting to memory, as OTEL_EXPORTER_OTLP_ENDPOINT would to a
 * collector. The job runs later, from Redis: only the traceparent in its data links it.
 */

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let env: TestEnv;
let sim: RunningSimulator;
let admin: SimulatorAdmin;
let real: RealApp;
let tenant: Awaited<ReturnType<RealApp['tenant']>>;

const IMPORT = 'mutation($input: [ImportAuthorizerInput!]!) { importAuthorizers(input: $input) { results { appId userErrors { code } } } }';
const APPLY = 'mutation Apply($input: ApplyLiveInput!) { applyLive(input: $input) { application { id } userErrors { code } } }';

beforeAll(async () => {
  provider.register();
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
  expect((await admin.issueTicket({ componentAppId: tenant.input.componentAppId })).push?.status).toBe(200);
  await real.app.webhooks?.drain();
});

afterAll(async () => {
  await real?.stop();
  await sim?.stop();
  await env?.cleanup();
  await provider.shutdown();
  trace.disable();
});

const spanId = (s: ReadableSpan) => s.spanContext().spanId;
const traceId = (s: ReadableSpan) => s.spanContext().traceId;

/** `span`'s parents, nearest first, among the finished spans. */
function ancestors(span: ReadableSpan, spans: ReadableSpan[]): ReadableSpan[] {
  const byId = new Map(spans.map((s) => [spanId(s), s]));
  const chain: ReadableSpan[] = [];
  let parent = span.parentSpanContext?.spanId;
  while (parent !== undefined) {
    const next = byId.get(parent);
    if (!next) break;
    chain.push(next);
    parent = next.parentSpanContext?.spanId;
  }
  return chain;
}

describe('traces', () => {
  it('runs one trace from the applyLive request through its job to the applyliveinfo call', async () => {
    const appId = randomAppId();
    const refreshToken = `refresh-${randomBytes(6).toString('hex')}`;
    await admin.addAuthorizer({ componentAppId: tenant.input.componentAppId, appId, refreshToken });
    await admin.setBehaviour({ appId, scenario: { kind: 'accept' }, openAfterMs: null });
    expect((await real.graphql(IMPORT, { input: [{ appId, refreshToken, permissionSets: [52] }] }, tenant.apiKey)).body.errors).toBeUndefined();
    exporter.reset();

    const applied = await real.graphql<{ applyLive: { application: { id: string } | null } }>(APPLY, { input: { appId } }, tenant.apiKey);
    const applicationId = applied.body.data?.applyLive.application?.id;
    expect(applicationId).toEqual(expect.any(String));
    await expectEventually(async () => {
      const [row] = await env.database.db.select().from(liveApplications).where(eq(liveApplications.appId, appId));
      expect(row?.status).toBe('SUBMITTED');
    });
    const spans = await expectEventually(() => {
      const finished = exporter.getFinishedSpans();
      expect(finished.some((s) => s.name === 'job apply')).toBe(true);
      return finished;
    });

    const http = spans.find((s) => s.name === 'POST /graphql');
    const operation = spans.find((s) => s.name === 'graphql mutation Apply');
    const job = spans.find((s) => s.name === 'job apply');
    const call = spans.find((s) => s.name === 'wechat applyliveinfo');
    if (!http || !operation || !job || !call) throw new Error(`missing spans among ${spans.map((s) => s.name).join(', ')}`);

    // The request's span, its operation, the database scopes the mutation opened.
    expect(operation.parentSpanContext?.spanId).toBe(spanId(http));
    expect(operation.attributes).toMatchObject({ 'graphql.operation.type': 'mutation', 'graphql.operation.name': 'Apply' });
    const scopes = spans.filter((s) => s.name === 'db inTenant' && ancestors(s, spans).includes(operation));
    expect(scopes.length).toBeGreaterThan(0);
    // The job, run by the worker from Redis, continues the request's trace...
    expect(traceId(job)).toBe(traceId(http));
    expect(ancestors(job, spans)).toContain(operation);
    expect(job.attributes).toMatchObject({ 'wxlive.tenant_id': tenant.id, 'wxlive.application_id': applicationId });
    // ...down to the WeChat call it made, and the scope that recorded the answer.
    expect(ancestors(call, spans)[0]).toBe(job);
    expect(call.attributes).toMatchObject({ 'wechat.endpoint': 'applyliveinfo', 'wechat.errcode': 0 });
    expect(spans.some((s) => s.name === 'db inTenant' && s.parentSpanContext?.spanId === spanId(job))).toBe(true);
    // No span carries a token: the query string is never an attribute.
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toMatch(/access_token/);
    expect((await admin.counters()).calls.applyliveinfo?.total).toBe(1);
  });

  it('continues the trace a caller sends in traceparent, and gives a webhook push its span and its processing a child', async () => {
    exporter.reset();
    const callerTrace = randomBytes(16).toString('hex');
    await real.graphql('{ tenant { id } }', {}, tenant.apiKey, { traceparent: `00-${callerTrace}-${randomBytes(8).toString('hex')}-01` });
    const query = await expectEventually(() => {
      const found = exporter.getFinishedSpans().find((s) => s.name === 'POST /graphql');
      if (!found) throw new Error('no request span yet');
      return found;
    });
    expect(traceId(query)).toBe(callerTrace);

    exporter.reset();
    // An authorization push: processed after the answer, with a WeChat call of its own.
    const appId = randomAppId();
    await admin.addAuthorizer({ componentAppId: tenant.input.componentAppId, appId, refreshToken: `refresh-${randomBytes(6).toString('hex')}` });
    expect((await admin.createAuthCode({ componentAppId: tenant.input.componentAppId, appId, push: true })).push?.status).toBe(200);
    await real.app.webhooks?.drain();
    const spans = await expectEventually(() => {
      const finished = exporter.getFinishedSpans();
      expect(finished.map((s) => s.name)).toContain('webhook process');
      return finished;
    });
    const push = spans.find((s) => s.name === 'POST /webhooks/wechat/:tenantId/auth');
    const processed = spans.find((s) => s.name === 'webhook process');
    if (!push || !processed) throw new Error(`missing spans among ${spans.map((s) => s.name).join(', ')}`);
    expect(push.attributes).toMatchObject({ 'http.route': '/webhooks/wechat/:tenantId/auth', 'http.response.status_code': 200 });
    expect(ancestors(processed, spans)).toContain(push);
    expect(processed.attributes).toMatchObject({ 'wxlive.tenant_id': tenant.id, 'wxlive.event_type': 'authorized' });
    const exchange = spans.find((s) => s.name === 'wechat api_query_auth');
    expect(exchange && ancestors(exchange, spans)).toContain(processed);
  });
});
