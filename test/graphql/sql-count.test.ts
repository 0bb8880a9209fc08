import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/client.js';
import * as tables from '../../src/db/tables.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { type GraphqlApp, startGraphqlApp } from './support/graphql-harness.js';
import type { ApplicationShape, ConnectionShape } from './support/shapes.js';

let env: TestEnv;
let app: GraphqlApp;
let sql: postgres.Sql;
const statements: string[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  // Every statement the services send goes through this client's debug hook.
  sql = postgres(env.databaseUrl, { max: 2, onnotice: () => {}, debug: (_connection, query) => statements.push(query) });
  app = await startGraphqlApp(env, { db: drizzle(sql, { schema: tables }) as unknown as Db });
});
afterAll(async () => {
  await app?.close();
  await sql?.end({ timeout: 5 });
  await env?.cleanup();
});

const PAGE = `{ liveApplications(first: 20) { edges { cursor node { id appId status errcode errmsg attempts createdAt submittedAt openedAt expiresAt updatedAt
  history { id type status errcode errmsg latencyMs attempt message at } } } pageInfo { hasNextPage endCursor } } }`;

describe('SQL per request', () => {
  it('reads a 20-item page with history in three statements: the key, the page, the history of all 20', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 20);
    await app.request('mutation($ids: [String!]!) { applyLiveBatch(appIds: $ids) { userErrors { code } } }', { ids: t.appIds }, t.apiKey.key);
    const page = await app.services.applications.list(t.ctx, { first: 20 });
    for (const a of page.items) await app.services.transitions.submitted(t.tenant.id, a.id, { errcode: 0, errmsg: 'ok', latencyMs: 90 });

    statements.length = 0;
    const res = await app.request<{ liveApplications: ConnectionShape<ApplicationShape> }>(PAGE, {}, t.apiKey.key);
    expect(res.body.errors).toBeUndefined();
    const edges = res.body.data?.liveApplications.edges ?? [];
    expect(edges).toHaveLength(20);
    expect(edges.every((e) => e.node.history?.length === 2)).toBe(true);
    expect(statements).toHaveLength(3);
    expect(statements[0]).toMatch(/from "api_keys"/);
    expect(statements[1]).toMatch(/from "live_applications"/);
    expect(statements[2]).toMatch(/from "live_application_events"/);

    statements.length = 0;
    await app.request('{ liveApplications(first: 20) { edges { node { id } } } }', {}, t.apiKey.key);
    expect(statements).toHaveLength(2);

    // History asked for through fragments: still one statement for the page's history.
    statements.length = 0;
    const viaFragment = await app.request<{ liveApplications: ConnectionShape<ApplicationShape> }>(
      'query { liveApplications(first: 20) { ...Page } } fragment Page on LiveApplicationConnection { edges { node { ... on LiveApplication { history { type } } } } }',
      {},
      t.apiKey.key,
    );
    expect(viaFragment.body.data?.liveApplications.edges.every((e) => e.node.history?.length === 2)).toBe(true);
    expect(statements).toHaveLength(3);
  });
});
