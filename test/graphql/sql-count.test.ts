import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drizzleWithScopes } from '../../src/db/client.js';
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
  // Every statement the services send goes through this client's debug hook; it runs as the app
  // role, so row-level security applies as in production.
  sql = postgres(env.databaseUrl, {
    max: 2,
    onnotice: () => {},
    connection: { role: 'wxlive_app' },
    debug: (_connection, query) => statements.push(query.trim()),
  });
  app = await startGraphqlApp(env, { db: drizzleWithScopes(sql) });
});
afterAll(async () => {
  await app?.close();
  await sql?.end({ timeout: 5 });
  await env?.cleanup();
});

/** The statements that read or write data, without the scopes' `begin; set_config` and COMMIT. */
const dataStatements = () => statements.filter((s) => !/^(begin|commit)/.test(s));

const PAGE = `{ liveApplications(first: 20) { edges { cursor node { id appId status errcode errmsg attempts createdAt submittedAt openedAt expiresAt updatedAt
  history { id type status errcode errmsg latencyMs attempt message at } } } pageInfo { hasNextPage endCursor } } }`;

describe('SQL per request', () => {
  it('reads a 20-item page with history in three statements: the key in its scope, the page and the history of all 20 in one scope for the query', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 20);
    await app.request('mutation($ids: [String!]!) { applyLiveBatch(appIds: $ids) { userErrors { code } } }', { ids: t.appIds }, t.apiKey.key);
    const page = await app.services.applications.list(t.ctx, { first: 20 });
    for (const a of page.items) await app.services.lifecycle.submit(t.ctx, a.id, { errcode: 0, errmsg: 'ok', latencyMs: 90 });
    // The published changes' outbox rows are deleted after their publish: let that finish first.
    await app.publisher.settled();

    statements.length = 0;
    const res = await app.request<{ liveApplications: ConnectionShape<ApplicationShape> }>(PAGE, {}, t.apiKey.key);
    expect(res.body.errors).toBeUndefined();
    const edges = res.body.data?.liveApplications.edges ?? [];
    expect(edges).toHaveLength(20);
    expect(edges.every((e) => e.node.history?.length === 2)).toBe(true);
    expect(dataStatements()).toHaveLength(3);
    // Each in a row-level-security scope: the key lookup in the system scope (it finds the
    // tenant), the page and the history in the tenant's, one transaction for the whole query
    // operation (sharedTenantScope). `begin; set_config` goes out as one message in the same
    // round trip as the first statement; COMMIT is the scope's other price.
    expect(statements).toEqual([
      expect.stringMatching(/^begin; select set_config\('wxlive\.rls_bypass', 'on', true\)$/),
      expect.stringMatching(/from "api_keys"/),
      'commit',
      `begin; select set_config('wxlive.tenant_id', '${t.tenant.id}', true)`,
      expect.stringMatching(/from "live_applications"/),
      expect.stringMatching(/from "live_application_events"/),
      'commit',
    ]);

    statements.length = 0;
    await app.request('{ liveApplications(first: 20) { edges { node { id } } } }', {}, t.apiKey.key);
    expect(dataStatements()).toHaveLength(2);

    // History asked for through fragments: still one statement for the page's history.
    statements.length = 0;
    const viaFragment = await app.request<{ liveApplications: ConnectionShape<ApplicationShape> }>(
      'query { liveApplications(first: 20) { ...Page } } fragment Page on LiveApplicationConnection { edges { node { ... on LiveApplication { history { type } } } } }',
      {},
      t.apiKey.key,
    );
    expect(viaFragment.body.data?.liveApplications.edges.every((e) => e.node.history?.length === 2)).toBe(true);
    expect(dataStatements()).toHaveLength(3);
  });
});
