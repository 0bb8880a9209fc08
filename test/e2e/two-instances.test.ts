import { type Client, createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type App, createApp } from '../../src/app/create-app.js';
import { connectTenantToSimulator } from '../../src/demo/seed-demo.js';
import { SimulatorAdmin } from '../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../src/wechat/simulator/server.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { openSubscriptions } from '../support/metrics.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';

let env: TestEnv;
let sim: RunningSimulator;
let api1: App;
let api2: App;
let worker: App;
const clients: Client[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  sim = await startSimulator({ port: 0, host: '127.0.0.1' });
  const base = { WECHAT_API_BASE: sim.url, APPLY_BACKOFF_MS: '50' };
  api1 = await createApp(env.config({ ...base, ROLE: 'api' }));
  api2 = await createApp(env.config({ ...base, ROLE: 'api' }));
  worker = await createApp(env.config({ ...base, ROLE: 'worker' }));
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  for (const app of [api1, api2, worker]) await app?.stop();
  await sim?.stop();
  await env.cleanup();
});

const APPLY = 'mutation($appId: String!) { applyLive(input: { appId: $appId }) { application { id status } userErrors { code } } }';

function subscribe(url: string, key: string, seen: { status: string; appId: string }[]): Promise<void> {
  const client = createClient({ url: `${url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${key}` } });
  clients.push(client);
  return new Promise((resolve, reject) => {
    client.on('connected', () => resolve());
    client.subscribe<{ liveApplicationUpdated: { status: string; appId: string } }>(
      { query: 'subscription { liveApplicationUpdated { id appId status cursor } }' },
      { next: (r) => r.data && seen.push(r.data.liveApplicationUpdated), error: reject, complete: () => {} },
    );
  });
}

describe('two gateway instances and a worker', () => {
  it("delivers SUBMITTED then OPENED to a subscriber on instance 1 for a push received by instance 2, and none of them to another tenant's", async () => {
    const a = await createTenantWithMerchants(env.database.db, env.box, 0);
    const b = await createTenantWithMerchants(env.database.db, env.box, 1);
    const bAppId = b.appIds[0] as string;
    const appId = 'wx0123456789abcdef';
    // WeChat pushes to instance 2; the console watches instance 1.
    await connectTenantToSimulator(
      new SimulatorAdmin(sim.url),
      { webhookBaseUrl: api2.url as string, authorizers: api2.services.authorizers },
      a.tenant.id,
      a.input,
      [{ appId, scenario: { kind: 'accept' }, openAfterMs: 200 }],
    );

    const seenA: { status: string; appId: string }[] = [];
    const seenB: { status: string; appId: string }[] = [];
    const before = await openSubscriptions(api1.url as string);
    await subscribe(api1.url as string, a.apiKey.key, seenA);
    await subscribe(api1.url as string, b.apiKey.key, seenB);
    // graphql-ws acknowledges the connection before the subscription is registered server-side.
    await expectEventually(async () => expect(await openSubscriptions(api1.url as string)).toBe(before + 2));

    const res = await fetch(`${api1.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${a.apiKey.key}` },
      body: JSON.stringify({ query: APPLY, variables: { appId } }),
    });
    const body = (await res.json()) as { data: { applyLive: { application: { id: string; status: string }; userErrors: unknown[] } } };
    expect(body.data.applyLive.userErrors).toEqual([]);
    expect(body.data.applyLive.application.status).toBe('QUEUED');

    await expectEventually(() => expect(seenA.map((s) => s.status)).toContain('OPENED'), { timeoutMs: 15_000 });
    const statuses = seenA.map((s) => s.status);
    expect(statuses.indexOf('SUBMITTED')).toBeGreaterThanOrEqual(0);
    expect(statuses.indexOf('SUBMITTED')).toBeLessThan(statuses.indexOf('OPENED'));
    expect(seenA.every((s) => s.appId === appId)).toBe(true);

    const counters = await new SimulatorAdmin(sim.url).counters();
    expect(counters.calls.applyliveinfo?.byAppId[appId]).toBe(1);
    expect(counters.pushes.recent.some((p) => p.kind === 'wxa_live_apply_event' && p.url.startsWith(api2.url as string) && p.status === 200)).toBe(true);
    // B's own change is published after A's and travels B's socket behind any stray delivery of
    // A's: once it is in, whatever leaked would be too.
    const bRes = await fetch(`${api1.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${b.apiKey.key}` },
      body: JSON.stringify({ query: APPLY, variables: { appId: bAppId } }),
    });
    expect(((await bRes.json()) as { data: { applyLive: { userErrors: unknown[] } } }).data.applyLive.userErrors).toEqual([]);
    await expectEventually(() => expect(seenB).toContainEqual(expect.objectContaining({ appId: bAppId, status: 'QUEUED' })));
    expect(seenB.filter((s) => s.appId !== bAppId)).toEqual([]);
  });
});
