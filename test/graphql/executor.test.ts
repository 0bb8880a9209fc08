import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { type GraphqlApp, startGraphqlApp } from './support/graphql-harness.js';
import type { ApplicationShape, ConnectionShape, PayloadShape } from './support/shapes.js';

let env: TestEnv;
const apps: Record<'jit' | 'graphql-js', GraphqlApp | undefined> = { jit: undefined, 'graphql-js': undefined };

beforeAll(async () => {
  env = await createTestEnv();
  const failing = {
    getQuota: async () => {
      throw new Error('boom');
    },
  };
  apps.jit = await startGraphqlApp(env, { jit: true, quotaReader: failing });
  apps['graphql-js'] = await startGraphqlApp(env, { jit: false, quotaReader: failing });
});
afterAll(async () => {
  for (const app of Object.values(apps)) await app?.close();
  await env?.cleanup();
});

describe.each(['jit', 'graphql-js'] as const)('with the %s executor', (name) => {
  it('gives the same answers: data, history, domain error codes, masked errors with paths, bad variables', async () => {
    const app = apps[name];
    if (!app) throw new Error('not started');
    const t = await createTenantWithMerchants(env.database.db, env.box, 2);
    const applied = await app.request<{ applyLive: PayloadShape }>(
      'mutation($a: String!) { applyLive(input: { appId: $a, idempotencyKey: "x" }) { application { id status } userErrors { code } } }',
      { a: t.appIds[0] },
      t.apiKey.key,
    );
    expect(applied.body.data?.applyLive).toMatchObject({ application: { status: 'QUEUED' }, userErrors: [] });

    const page = await app.request<{ liveApplications: ConnectionShape<ApplicationShape> }>(
      '{ liveApplications { edges { node { appId status history { type status } } } pageInfo { hasNextPage } } }',
      {},
      t.apiKey.key,
    );
    expect(page.body).toEqual({
      data: {
        liveApplications: {
          edges: [{ node: { appId: t.appIds[0], status: 'QUEUED', history: [{ type: 'CREATED', status: 'QUEUED' }] } }],
          pageInfo: { hasNextPage: false },
        },
      },
    });

    const domain = await app.request('{ liveApplications(after: "nope") { edges { cursor } } }', {}, t.apiKey.key);
    expect(domain.body.errors).toEqual([expect.objectContaining({ path: ['liveApplications'], extensions: { code: 'INVALID_INPUT' } })]);

    const masked = await app.request('{ tenant { id } quota(appId: "wx0000000000000001") { used } }', {}, t.apiKey.key, { 'x-request-id': `req-${name}` });
    expect(masked.body).toEqual({
      data: null,
      errors: [
        {
          message: `Internal server error (request id req-${name})`,
          path: ['quota'],
          locations: [{ line: 1, column: 17 }],
          extensions: { code: 'INTERNAL_SERVER_ERROR' },
        },
      ],
    });

    const variables = await app.request('query($f: Int) { liveApplications(first: $f) { edges { cursor } } }', { f: 'x' }, t.apiKey.key);
    expect(variables.status).toBe(400);
    expect(variables.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
