import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drizzleWithScopes } from '../../src/db/client.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { type GraphqlApp, startGraphqlApp } from './support/graphql-harness.js';

let env: TestEnv;
let app: GraphqlApp;
let sql: postgres.Sql;
const statements: string[] = [];
let key: string;
let appIds: string[];

beforeAll(async () => {
  env = await createTestEnv();
  // Every statement the services send is seen here (as the app role: row-level security applies).
  sql = postgres(env.databaseUrl, { max: 2, onnotice: () => {}, connection: { role: 'wxlive_app' }, debug: (_c, query) => statements.push(query.trim()) });
  app = await startGraphqlApp(env, { db: drizzleWithScopes(sql) });
  const mine = await createTenantWithMerchants(env.database.db, env.box, 3);
  key = mine.apiKey.key;
  appIds = mine.appIds;
  const apply = 'mutation($ids: [String!]!) { applyLiveBatch(appIds: $ids) { userErrors { code } } }';
  await app.request(apply, { ids: appIds }, key);
  // Another tenant's applications and merchants are never counted.
  const other = await createTenantWithMerchants(env.database.db, env.box, 2);
  await app.request(apply, { ids: other.appIds }, other.apiKey.key);
  const page = await app.services.applications.list(mine.ctx, { first: 1, filter: { appId: appIds[0] } });
  await app.services.lifecycle.submit(mine.ctx, page.items[0]?.id as string, { errcode: 0, errmsg: 'ok', latencyMs: 10 });
  await app.publisher.settled();
});
afterAll(async () => {
  await app?.close();
  await sql?.end({ timeout: 5 });
  await env?.cleanup();
});

interface Counted {
  totalCount: number;
  edges: unknown[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

const APPLICATIONS = `query($first: Int, $after: String, $filter: LiveApplicationFilter) {
  liveApplications(first: $first, after: $after, filter: $filter) { totalCount edges { cursor } pageInfo { hasNextPage endCursor } } }`;

async function applications(variables: Record<string, unknown>): Promise<Counted> {
  const res = await app.request<{ liveApplications: Counted }>(APPLICATIONS, variables, key);
  expect(res.body.errors).toBeUndefined();
  return res.body.data?.liveApplications as Counted;
}

const counts = () => statements.filter((s) => /count\(\*\)/.test(s));

describe('totalCount', () => {
  it("liveApplications counts every application the filter matches, on every page, the tenant's only", async () => {
    const first = await applications({ first: 2 });
    expect(first.totalCount).toBe(3);
    expect(first.edges).toHaveLength(2);
    const second = await applications({ first: 2, after: first.pageInfo.endCursor });
    expect(second.edges).toHaveLength(1);
    expect(second.totalCount).toBe(3);
    expect((await applications({ filter: { appId: appIds[0] } })).totalCount).toBe(1);
    expect((await applications({ filter: { status: ['QUEUED'] } })).totalCount).toBe(2);
    expect((await applications({ filter: { status: ['QUEUED', 'SUBMITTED'] } })).totalCount).toBe(3);
    expect((await applications({ filter: { appId: appIds[0], status: ['QUEUED'] } })).totalCount).toBe(0);
    expect((await applications({ filter: { status: ['OPENED'] } })).totalCount).toBe(0);
  });

  it("authorizers counts the tenant's merchants", async () => {
    const res = await app.request<{ authorizers: Counted }>('{ authorizers(first: 1) { totalCount edges { cursor } } }', {}, key);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.authorizers.totalCount).toBe(3);
    expect(res.body.data?.authorizers.edges).toHaveLength(1);
  });

  it('is counted only when selected', async () => {
    statements.length = 0;
    await app.request('{ liveApplications(first: 2) { edges { cursor } } authorizers { edges { cursor } } }', {}, key);
    expect(counts()).toEqual([]);
    await app.request('{ liveApplications(first: 2) { totalCount } authorizers { totalCount } }', {}, key);
    expect(counts()).toHaveLength(2);
  });
});
