import { type Client, createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { randomAppId } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';
import { type RealApp, startRealApp } from '../security/support/real-app.js';

/** graphql-ws at /metrics: connections and subscriptions open now (the latter: change-feed listeners), subscription results sent so far. */

let env: TestEnv;
let api: RealApp;
const clients: Client[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  // ROLE=api: applyLive only queues, so the changes below are the only ones.
  api = await startRealApp(env, { ROLE: 'api' });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await api?.stop();
  await env?.cleanup();
});

function value(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
}

async function wsMetrics() {
  const answer = await api.fetch('/metrics');
  expect(answer.status).toBe(200);
  return {
    connections: value(answer.text, 'wxlive_graphql_ws_connections'),
    subscriptions: value(answer.text, 'wxlive_graphql_subscriptions_open'),
    messages: value(answer.text, 'wxlive_graphql_ws_subscription_messages_total'),
  };
}

function connect(key: string): Client {
  const client = createClient({
    url: `${api.url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
    retryAttempts: 0,
  });
  clients.push(client);
  return client;
}

const UPDATED = 'subscription($appId: String) { liveApplicationUpdated(appId: $appId) { id status } }';

function follow(client: Client, variables: Record<string, unknown>) {
  const received: unknown[] = [];
  const dispose = client.subscribe({ query: UPDATED, variables }, { next: (r) => received.push(r), error: () => {}, complete: () => {} });
  return { received, dispose };
}

describe('WebSocket metrics', () => {
  it('gauge the open connections and running subscriptions, and count the subscription results sent', async () => {
    expect(await wsMetrics()).toEqual({ connections: 0, subscriptions: 0, messages: 0 });
    const { apiKey } = await api.tenant();
    const appId = randomAppId();
    const imported = await api.graphql(
      'mutation($input: [ImportAuthorizerInput!]!) { importAuthorizers(input: $input) { results { appId } } }',
      {
        input: [{ appId, refreshToken: 'refresh', permissionSets: [1, 52] }],
      },
      apiKey,
    );
    expect(imported.body.errors).toBeUndefined();

    const first = connect(apiKey);
    const second = connect(apiKey);
    const mine = follow(first, { appId });
    const all = follow(first, {});
    const other = follow(second, {});
    // A query over WebSocket is no subscription and sends no subscription result.
    await new Promise<void>((resolve, reject) => second.subscribe({ query: '{ tenant { id } }' }, { next: () => {}, error: reject, complete: resolve }));
    await expectEventually(async () => expect(await wsMetrics()).toEqual({ connections: 2, subscriptions: 3, messages: 0 }));

    const applied = await api.graphql<{ applyLive: { application: { id: string } } }>(
      'mutation($appId: String!) { applyLive(input: { appId: $appId }) { application { id } } }',
      { appId },
      apiKey,
    );
    expect(applied.body.errors).toBeUndefined();
    // One change, three subscribers: three results sent.
    await expectEventually(() => expect([mine.received.length, all.received.length, other.received.length]).toEqual([1, 1, 1]));
    expect((await wsMetrics()).messages).toBe(3);

    mine.dispose();
    await expectEventually(async () => expect((await wsMetrics()).subscriptions).toBe(2));
    await second.dispose();
    await expectEventually(async () => expect(await wsMetrics()).toEqual({ connections: 1, subscriptions: 1, messages: 3 }));
    all.dispose();
    await first.dispose();
    await expectEventually(async () => expect(await wsMetrics()).toEqual({ connections: 0, subscriptions: 0, messages: 3 }));
  });
});
