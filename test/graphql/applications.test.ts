import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../src/services/context.js';
import { createTenantWithMerchants, randomAppId } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { type GraphqlApp, startGraphqlApp } from './support/graphql-harness.js';
import { APPLICATION_FIELDS, type ApplicationShape, type ConnectionShape, type PayloadShape, type UserErrorShape } from './support/shapes.js';

let env: TestEnv;
let app: GraphqlApp;

beforeAll(async () => {
  env = await createTestEnv();
  app = await startGraphqlApp(env);
});
afterAll(async () => {
  await app?.close();
  await env?.cleanup();
});

const APPLY = `mutation($input: ApplyLiveInput!) {
  applyLive(input: $input) { application { ${APPLICATION_FIELDS} history { type status message } } userErrors { code message field } }
}`;
const BATCH = `mutation($appIds: [String!]!) {
  applyLiveBatch(appIds: $appIds) { results { appId application { id appId status } userErrors { code field } } userErrors { code } }
}`;
const CANCEL = `mutation($id: ID!) { cancelLiveApplication(id: $id) { application { id status } userErrors { code field } } }`;
const ONE = `query($id: ID!) { liveApplication(id: $id) { ${APPLICATION_FIELDS} } }`;
const LIST = `query($first: Int, $after: String, $filter: LiveApplicationFilter) {
  liveApplications(first: $first, after: $after, filter: $filter) { edges { cursor node { id appId status } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }
}`;

async function apply(key: string, input: { appId: string; idempotencyKey?: string }): Promise<PayloadShape> {
  const res = await app.request<{ applyLive: PayloadShape }>(APPLY, { input }, key);
  expect(res.body.errors).toBeUndefined();
  const payload = res.body.data?.applyLive;
  if (!payload) throw new Error('no payload');
  return payload;
}

describe('applyLive', () => {
  it('queues an application with its CREATED history and enqueues one job', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 1);
    const appId = t.appIds[0] as string;
    const { application, userErrors } = await apply(t.apiKey.key, { appId });
    expect(userErrors).toEqual([]);
    expect(application).toMatchObject({ appId, status: 'QUEUED', attempts: 0, errcode: null });
    expect(application?.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(application?.history).toEqual([{ type: 'CREATED', status: 'QUEUED', message: 'Accepted by the API.' }]);
    expect(app.queue.enqueued).toContainEqual({ tenantId: t.tenant.id, applicationId: application?.id, appId });
  });

  it('answers each refusal with its code in userErrors, naming the field', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 3);
    const [revoked, noLive, open] = t.appIds as [string, string, string];
    const other = randomAppId();
    await app.services.authorizers.revoke(t.ctx, revoked);
    await app.services.authorizers.import(t.ctx, [{ appId: noLive, refreshToken: 'r', permissionSets: [1, 17] }]);
    // Opened through the lifecycle's own path, as a wxa_live_apply_event does.
    await app.services.lifecycle.open(t.ctx, open, new Date());
    const cases: [string, string][] = [
      ['wx123', 'INVALID_APP_ID'],
      [other, 'AUTHORIZER_NOT_FOUND'],
      [revoked, 'AUTHORIZER_REVOKED'],
      [noLive, 'PERMISSION_NOT_GRANTED'],
      [open, 'ALREADY_OPEN'],
    ];
    for (const [appId, code] of cases) {
      const { application, userErrors } = await apply(t.apiKey.key, { appId });
      expect(application).toBeNull();
      expect(userErrors).toEqual([{ code, message: expect.any(String), field: ['input', 'appId'] } satisfies UserErrorShape]);
    }
  });

  it('returns the same application for the same idempotency key, and the active one instead of a second', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 1);
    const appId = t.appIds[0] as string;
    const first = await apply(t.apiKey.key, { appId, idempotencyKey: 'k-1' });
    const again = await apply(t.apiKey.key, { appId, idempotencyKey: 'k-1' });
    const noKey = await apply(t.apiKey.key, { appId });
    expect(again.application?.id).toBe(first.application?.id);
    expect(noKey.application?.id).toBe(first.application?.id);
    expect(app.queue.enqueued.filter((j) => j.appId === appId)).toHaveLength(1);
    const otherApp = await createTenantWithMerchants(env.database.db, env.box, 0);
    expect(otherApp).toBeDefined();
  });
});

describe('applyLiveBatch', () => {
  it('answers one result per app id, in order, for a mix of new, duplicate, invalid and unknown merchants', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 3);
    const [a, b, c] = t.appIds as [string, string, string];
    const existing = await apply(t.apiKey.key, { appId: c });
    const unknown = randomAppId();
    const appIds = [a, 'bad', b, unknown, a, c];
    const res = await app.request<{ applyLiveBatch: { results: (PayloadShape & { appId: string })[]; userErrors: UserErrorShape[] } }>(
      BATCH,
      { appIds },
      t.apiKey.key,
    );
    expect(res.body.errors).toBeUndefined();
    const results = res.body.data?.applyLiveBatch.results ?? [];
    expect(results.map((r) => r.appId)).toEqual(appIds);
    expect(results.map((r) => r.userErrors.map((e) => e.code)[0] ?? r.application?.status)).toEqual([
      'QUEUED',
      'INVALID_APP_ID',
      'QUEUED',
      'AUTHORIZER_NOT_FOUND',
      'QUEUED',
      'QUEUED',
    ]);
    expect(results[1]?.userErrors[0]?.field).toEqual(['appIds', '1']);
    expect(results[4]?.application?.id).toBe(results[0]?.application?.id);
    expect(results[5]?.application?.id).toBe(existing.application?.id);
    expect(res.body.data?.applyLiveBatch.userErrors).toEqual([]);
  });

  it('refuses more than 1,000 app ids as a whole with BATCH_TOO_LARGE', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const res = await app.request<{ applyLiveBatch: { results: unknown[]; userErrors: UserErrorShape[] } }>(
      BATCH,
      { appIds: Array.from({ length: 1001 }, randomAppId) },
      t.apiKey.key,
    );
    expect(res.body.data?.applyLiveBatch).toEqual({ results: [], userErrors: [{ code: 'BATCH_TOO_LARGE' }] });
  });
});

describe('cancelLiveApplication', () => {
  it('cancels a QUEUED application, removes its job, and refuses to cancel it twice', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 1);
    const { application } = await apply(t.apiKey.key, { appId: t.appIds[0] as string });
    const id = application?.id;
    const res = await app.request<{ cancelLiveApplication: PayloadShape }>(CANCEL, { id }, t.apiKey.key);
    expect(res.body.data?.cancelLiveApplication).toEqual({ application: { id, status: 'CANCELLED' }, userErrors: [] });
    expect(app.queue.removed).toContain(id);
    const twice = await app.request<{ cancelLiveApplication: PayloadShape }>(CANCEL, { id }, t.apiKey.key);
    expect(twice.body.data?.cancelLiveApplication.userErrors[0]?.code).toBe('NOT_CANCELLABLE');
    const missing = await app.request<{ cancelLiveApplication: PayloadShape }>(CANCEL, { id: '00000000-0000-4000-8000-000000000000' }, t.apiKey.key);
    expect(missing.body.data?.cancelLiveApplication).toEqual({ application: null, userErrors: [{ code: 'NOT_FOUND', field: ['id'] }] });
  });
});

describe('liveApplications', () => {
  it('pages newest first across pages, with filters by app id and status', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 5);
    // Creation times come from the injected clock: each apply a second after the one before.
    for (const appId of t.appIds) {
      app.clock.advance(1000);
      await apply(t.apiKey.key, { appId });
    }
    const [first] = t.appIds as [string];
    const firstApp = await app.request<{ liveApplications: ConnectionShape<ApplicationShape> }>(LIST, { filter: { appId: first } }, t.apiKey.key);
    const firstId = firstApp.body.data?.liveApplications.edges[0]?.node.id;
    await app.request(CANCEL, { id: firstId }, t.apiKey.key);
    app.clock.advance(1000);
    await apply(t.apiKey.key, { appId: first });

    const seen: ApplicationShape[] = [];
    let after: string | null = null;
    for (let page = 0; page < 5; page++) {
      const res: Awaited<ReturnType<typeof app.request<{ liveApplications: ConnectionShape<ApplicationShape> }>>> = await app.request(
        LIST,
        { first: 2, after },
        t.apiKey.key,
      );
      const conn = res.body.data?.liveApplications;
      if (!conn) throw new Error(JSON.stringify(res.body));
      seen.push(...conn.edges.map((e) => e.node));
      expect(conn.pageInfo.endCursor).toBe(conn.edges.at(-1)?.cursor ?? null);
      expect(conn.pageInfo.startCursor).toBe(conn.edges[0]?.cursor ?? null);
      expect(conn.pageInfo.hasPreviousPage).toBe(after !== null);
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(6);
    expect(new Set(seen.map((s) => s.id)).size).toBe(6);
    expect(seen[0]?.appId).toBe(first);

    const byApp = await app.request<{ liveApplications: ConnectionShape<ApplicationShape> }>(LIST, { filter: { appId: first } }, t.apiKey.key);
    expect(byApp.body.data?.liveApplications.edges.map((e) => e.node.status)).toEqual(['QUEUED', 'CANCELLED']);
    const cancelled = await app.request<{ liveApplications: ConnectionShape<ApplicationShape> }>(LIST, { filter: { status: ['CANCELLED'] } }, t.apiKey.key);
    expect(cancelled.body.data?.liveApplications.edges.map((e) => e.node.id)).toEqual([firstId]);
    const queuedPage = await app.request<{ liveApplications: ConnectionShape<ApplicationShape> }>(
      LIST,
      { first: 3, filter: { status: ['QUEUED', 'SUBMITTED'] } },
      t.apiKey.key,
    );
    expect(queuedPage.body.data?.liveApplications.edges).toHaveLength(3);
    expect(queuedPage.body.data?.liveApplications.pageInfo.hasNextPage).toBe(true);
  });

  // Rows created by one statement share created_at: the keyset must still page through all of them.
  it('pages a batch of applications created together without losing any', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 5);
    await app.request(BATCH, { appIds: t.appIds }, t.apiKey.key);
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 5; page++) {
      const res: Awaited<ReturnType<typeof app.request<{ liveApplications: ConnectionShape<ApplicationShape> }>>> = await app.request(
        LIST,
        { first: 2, after },
        t.apiKey.key,
      );
      const conn = res.body.data?.liveApplications;
      if (!conn) throw new Error(JSON.stringify(res.body));
      seen.push(...conn.edges.map((e) => e.node.appId));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(seen.sort()).toEqual([...t.appIds].sort());
  });

  it('answers INVALID_INPUT for an "after" cursor it did not issue', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const res = await app.request(LIST, { after: 'garbage' }, t.apiKey.key);
    expect(res.body.errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');
  });
});

describe('tenant isolation', () => {
  it("never lets tenant B read, list, cancel or apply for tenant A's applications and merchants", async () => {
    const a = await createTenantWithMerchants(env.database.db, env.box, 1);
    const b = await createTenantWithMerchants(env.database.db, env.box, 0);
    const appId = a.appIds[0] as string;
    const { application } = await apply(a.apiKey.key, { appId });
    const id = application?.id;

    const one = await app.request<{ liveApplication: ApplicationShape | null }>(ONE, { id }, b.apiKey.key);
    expect(one.body.data?.liveApplication).toBeNull();
    const list = await app.request<{ liveApplications: ConnectionShape<ApplicationShape> }>(LIST, { filter: { appId } }, b.apiKey.key);
    expect(list.body.data?.liveApplications.edges).toEqual([]);
    const cancel = await app.request<{ cancelLiveApplication: PayloadShape }>(CANCEL, { id }, b.apiKey.key);
    expect(cancel.body.data?.cancelLiveApplication.userErrors[0]?.code).toBe('NOT_FOUND');
    const applied = await apply(b.apiKey.key, { appId });
    expect(applied.userErrors[0]?.code).toBe('AUTHORIZER_NOT_FOUND');
    const batch = await app.request<{ applyLiveBatch: { results: PayloadShape[] } }>(BATCH, { appIds: [appId] }, b.apiKey.key);
    expect(batch.body.data?.applyLiveBatch.results[0]?.userErrors[0]?.code).toBe('AUTHORIZER_NOT_FOUND');

    const still = await app.services.applications.get(systemContext(a.tenant.id), id as string);
    expect(still?.status).toBe('QUEUED');
    const mine = await app.request<{ liveApplication: ApplicationShape | null }>(ONE, { id }, a.apiKey.key);
    expect(mine.body.data?.liveApplication?.id).toBe(id);
  });
});
