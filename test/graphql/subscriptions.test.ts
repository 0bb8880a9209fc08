import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareCursors } from '../../src/graphql/application-feed.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';
import { collect, type GraphqlApp, startGraphqlApp } from './support/graphql-harness.js';
import type { ApplicationShape, PayloadShape } from './support/shapes.js';

let env: TestEnv;
let app: GraphqlApp;
let other: GraphqlApp;

beforeAll(async () => {
  env = await createTestEnv();
  app = await startGraphqlApp(env);
  // A second gateway instance on the same Redis: changes must reach its subscribers too.
  other = await startGraphqlApp(env);
});
afterAll(async () => {
  await app?.close();
  await other?.close();
  await env?.cleanup();
});

const UPDATED = `subscription($appId: String, $id: ID, $after: String) {
  liveApplicationUpdated(appId: $appId, id: $id, after: $after) { id appId status cursor errcode history { type status } }
}`;
const APPLY = 'mutation($appId: String!) { applyLive(input: { appId: $appId }) { application { id appId status } userErrors { code } } }';

type Updated = { liveApplicationUpdated: ApplicationShape };

async function apply(key: string, appId: string): Promise<string> {
  const res = await app.request<{ applyLive: PayloadShape }>(APPLY, { appId }, key);
  const id = res.body.data?.applyLive.application?.id;
  if (!id) throw new Error(JSON.stringify(res.body));
  return id;
}

function statuses(results: { data?: Updated | null }[]): string[] {
  return results.map((r) => `${r.data?.liveApplicationUpdated.appId}:${r.data?.liveApplicationUpdated.status}`);
}

describe('liveApplicationUpdated', () => {
  it("delivers the caller's changes from any instance with cursor and history, and none of another tenant's", async () => {
    const a = await createTenantWithMerchants(env.database.db, env.box, 2);
    const b = await createTenantWithMerchants(env.database.db, env.box, 1);
    const [a1, a2] = a.appIds as [string, string];
    const listeners = other.subscriber.listenerCount;
    const subA = collect<Updated>(other.wsClient(a.apiKey.key), UPDATED);
    const subB = collect<Updated>(other.wsClient(b.apiKey.key), UPDATED);
    const subA2 = collect<Updated>(other.wsClient(a.apiKey.key), UPDATED, { appId: a2 });
    await expectEventually(() => expect(other.subscriber.listenerCount).toBe(listeners + 3));

    const id1 = await apply(a.apiKey.key, a1);
    await app.services.lifecycle.submit(a.ctx, id1, { errcode: 0, errmsg: 'ok', latencyMs: 120 });
    await apply(a.apiKey.key, a2);
    await apply(b.apiKey.key, b.appIds[0] as string);

    await expectEventually(() => expect(statuses(subA.results)).toEqual([`${a1}:QUEUED`, `${a1}:SUBMITTED`, `${a2}:QUEUED`]));
    await expectEventually(() => expect(statuses(subB.results)).toEqual([`${b.appIds[0]}:QUEUED`]));
    await expectEventually(() => expect(statuses(subA2.results)).toEqual([`${a2}:QUEUED`]));
    const submitted = subA.results[1]?.data?.liveApplicationUpdated;
    expect(submitted?.cursor).toMatch(/^\d+-\d+$/);
    expect(submitted?.history).toEqual([
      { type: 'CREATED', status: 'QUEUED' },
      { type: 'ATTEMPT', status: 'SUBMITTED' },
    ]);
    expect(subA.state.error).toBeUndefined();
    for (const s of [subA, subB, subA2]) s.dispose();
    await expectEventually(() => expect(other.subscriber.listenerCount).toBe(listeners));
  });

  it('filters by application id', async () => {
    const a = await createTenantWithMerchants(env.database.db, env.box, 2);
    const [a1, a2] = a.appIds as [string, string];
    const id1 = await apply(a.apiKey.key, a1);
    const listeners = app.subscriber.listenerCount;
    const sub = collect<Updated>(app.wsClient(a.apiKey.key), UPDATED, { id: id1 });
    await expectEventually(() => expect(app.subscriber.listenerCount).toBe(listeners + 1));
    await apply(a.apiKey.key, a2);
    await app.services.lifecycle.submit(a.ctx, id1, { errcode: 0, errmsg: 'ok', latencyMs: 80 });
    await expectEventually(() => expect(statuses(sub.results)).toEqual([`${a1}:SUBMITTED`]));
    sub.dispose();
  });

  it('replays every change after a cursor, then goes live without a gap or a duplicate', async () => {
    const a = await createTenantWithMerchants(env.database.db, env.box, 4);
    const [a1, a2, a3, a4] = a.appIds as [string, string, string, string];
    const listeners = app.subscriber.listenerCount;
    const first = collect<Updated>(app.wsClient(a.apiKey.key), UPDATED);
    await expectEventually(() => expect(app.subscriber.listenerCount).toBe(listeners + 1));
    await apply(a.apiKey.key, a1);
    await expectEventually(() => expect(first.results).toHaveLength(1));
    const cursor = first.results[0]?.data?.liveApplicationUpdated.cursor;
    first.dispose();

    // Missed while disconnected:
    await apply(a.apiKey.key, a2);
    await apply(a.apiKey.key, a3);

    const resumed = collect<Updated>(app.wsClient(a.apiKey.key), UPDATED, { after: cursor });
    await expectEventually(() => expect(statuses(resumed.results)).toEqual([`${a2}:QUEUED`, `${a3}:QUEUED`]));
    await apply(a.apiKey.key, a4);
    await expectEventually(() => expect(statuses(resumed.results)).toEqual([`${a2}:QUEUED`, `${a3}:QUEUED`, `${a4}:QUEUED`]));
    const cursors = resumed.results.map((r) => r.data?.liveApplicationUpdated.cursor ?? '');
    expect([...cursors].sort(compareCursors)).toEqual(cursors);
    resumed.dispose();
  });

  it('closes subscriptions and stops listening when the server stops', async () => {
    const third = await startGraphqlApp(env);
    const a = await createTenantWithMerchants(env.database.db, env.box, 0);
    const codes: number[] = [];
    const sub = collect<Updated>(third.wsClient(a.apiKey.key, { onClose: (code) => codes.push(code) }), UPDATED);
    await expectEventually(() => expect(third.subscriber.listenerCount).toBe(1));
    await third.close();
    expect(third.subscriber.listenerCount).toBe(0);
    await expectEventually(() => expect(codes).toEqual([1001]));
    sub.dispose();
  });

  it('answers INVALID_INPUT for an "after" that is not a cursor', async () => {
    const a = await createTenantWithMerchants(env.database.db, env.box, 0);
    const sub = collect<Updated>(app.wsClient(a.apiKey.key), UPDATED, { after: 'nonsense' });
    await expectEventually(() => expect(sub.results[0]?.errors?.[0]?.extensions?.code).toBe('INVALID_INPUT'));
    sub.dispose();
  });
});
