import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_ACCEPT } from '../../src/graphql/http-handler.js';
import type { OperationReport } from '../../src/graphql/operation-metrics.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { type GraphqlApp, startGraphqlApp } from './support/graphql-harness.js';

/**
 * The fast path beside Apollo's pipeline is an extension point, pinned here: every request
 * reaches the operation hooks once whichever path answers it, and for every accept header the
 * fast path takes, its answer is byte for byte the one Apollo's pipeline gives.
 */

let env: TestEnv;
let fast: GraphqlApp;
let apolloOnly: GraphqlApp;
let key: string;
const reports: OperationReport[] = [];

const QUERY = 'query Page { liveApplications(first: 5) { edges { node { id appId status } } pageInfo { hasNextPage endCursor } } }';

beforeAll(async () => {
  env = await createTestEnv();
  fast = await startGraphqlApp(env, { operationHooks: [(r) => reports.push(r)] });
  apolloOnly = await startGraphqlApp(env, { jit: false });
  const t = await createTenantWithMerchants(env.database.db, env.box, 2);
  key = t.apiKey.key;
  for (const appId of t.appIds) {
    await fast.request('mutation($appId: String!) { applyLive(input: { appId: $appId }) { application { id } } }', { appId }, key);
  }
});

afterAll(async () => {
  await fast?.close();
  await apolloOnly?.close();
  await env?.cleanup();
});

async function post(app: GraphqlApp, accept: string | undefined, query = QUERY) {
  const res = await fetch(app.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...(accept === undefined ? {} : { accept }) },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, contentType: res.headers.get('content-type'), body: await res.text() };
}

describe('one set of hooks for both paths', () => {
  it('reports each request once, saying which path answered it', async () => {
    reports.length = 0;
    const query = 'query Once { tenant { id } }';
    await post(fast, undefined, query); // compiled at first sight: the fast path
    await post(fast, 'application/json; charset=utf-8', query); // an accept value the fast path leaves to Apollo
    await fast.request('mutation { applyLive(input: { appId: "not-an-app-id" }) { userErrors { code } } }', {}, key);
    await fast.request(query, {}, null); // no key: refused before an operation
    const refused = await post(fast, 'text/plain', query); // nothing the client accepts: refused before either pipeline
    expect(refused.status).toBe(406);
    expect(reports.map((r) => ({ path: r.path, type: r.type, name: r.operationName ?? null, codes: r.errorCodes }))).toEqual([
      { path: 'fast', type: 'query', name: 'Once', codes: [] },
      { path: 'apollo', type: 'query', name: 'Once', codes: [] },
      { path: 'apollo', type: 'mutation', name: null, codes: [] },
      { path: 'apollo', type: 'none', name: null, codes: ['UNAUTHENTICATED'] },
      { path: 'http', type: 'none', name: null, codes: ['BAD_REQUEST'] },
    ]);
    expect(reports.slice(0, 3).every((r) => typeof r.tenantId === 'string' && (r.seconds ?? -1) >= 0)).toBe(true);
  });

  it('never runs a mutation whose answer the client would not accept', async () => {
    const before = await fast.request<{ liveApplications: { edges: unknown[] } }>('{ liveApplications(first: 100) { edges { cursor } } }', {}, key);
    const t = await createTenantWithMerchants(env.database.db, env.box, 1);
    const res = await fetch(fast.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.apiKey.key}`, accept: 'text/html' },
      body: JSON.stringify({ query: `mutation { applyLive(input: { appId: "${t.appIds[0]}" }) { application { id } } }` }),
    });
    expect(res.status).toBe(406);
    const after = await fast.request<{ liveApplications: { edges: unknown[] } }>('{ liveApplications(first: 100) { edges { cursor } } }', {}, t.apiKey.key);
    expect(after.body.data?.liveApplications.edges).toEqual([]);
    expect(before.body.data?.liveApplications.edges).toHaveLength(2);
  });
});

describe('every accept header the fast path takes', () => {
  for (const accept of FAST_ACCEPT.keys()) {
    it(`${accept ?? '(none)'}: the fast answer is the answer of Apollo's pipeline`, async () => {
      reports.length = 0;
      await post(fast, accept); // compiled
      const fastAnswer = await post(fast, accept);
      expect(reports.at(-1)?.path).toBe('fast');
      const apolloAnswer = await post(apolloOnly, accept);
      expect(fastAnswer).toEqual(apolloAnswer);
      expect(fastAnswer.status).toBe(200);
      expect(JSON.parse(fastAnswer.body).data.liveApplications.edges).toHaveLength(2);
    });
  }
});
