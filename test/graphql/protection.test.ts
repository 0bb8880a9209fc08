import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { type GraphqlApp, startGraphqlApp, wsOnce } from './support/graphql-harness.js';

let env: TestEnv;
/** Tight limits, so abuse is reachable with this schema's real fields. */
let app: GraphqlApp;
let key: string;
const logLines: string[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  const logger = createLogger(
    { level: 'error' },
    new Writable({
      write(chunk, _enc, done) {
        logLines.push(String(chunk));
        done();
      },
    }),
  );
  app = await startGraphqlApp(env, {
    config: { maxDepth: 4, maxAliases: 3, maxCost: 40 },
    bodyLimitBytes: 4096,
    logger,
    quotaReader: {
      getQuota: async () => {
        throw new Error('redis said: secret-internal-detail');
      },
    },
  });
  key = (await createTenantWithMerchants(env.database.db, env.box, 0)).apiKey.key;
});
afterAll(async () => {
  await app?.close();
  await env?.cleanup();
});

const DEEP = '{ liveApplications { edges { node { history { type } } } } }';
const ALIASES = '{ a: tenant { id } b: tenant { id } c: tenant { id } d: tenant { id } }';
const COSTLY = '{ liveApplications { edges { cursor node { id appId status errcode errmsg attempts createdAt updatedAt submittedAt openedAt expiresAt } } } }';

function codes(body: { errors?: { extensions?: { code?: string } }[] }): (string | undefined)[] {
  return (body.errors ?? []).map((e) => e.extensions?.code);
}

describe('query limits', () => {
  it('rejects too deep, too many aliases and too costly queries over HTTP before running them', async () => {
    for (const [query, pattern] of [
      [DEEP, /depth limit of 4/],
      [ALIASES, /aliases limit of 3/i],
      [COSTLY, /cost limit of 40/i],
    ] as const) {
      const res = await app.request(query, {}, key);
      expect(res.status).toBe(400);
      expect(codes(res.body)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      expect(res.body.errors?.[0]?.message).toMatch(pattern);
      expect(res.body.data).toBeUndefined();
    }
    expect((await app.request('{ tenant { id } }', {}, key)).status).toBe(200);
  });

  it('applies the same limits over WebSocket, to subscriptions too', async () => {
    const client = app.wsClient(key);
    for (const query of [DEEP, ALIASES, 'subscription { liveApplicationUpdated { a: id b: id c: id d: id } }']) {
      await expect(wsOnce(client, query)).rejects.toSatisfy((errors: unknown) => JSON.stringify(errors).includes('GRAPHQL_VALIDATION_FAILED'));
    }
    expect((await wsOnce<{ tenant: { id: string } }>(client, '{ tenant { id } }')).data?.tenant.id).toBeDefined();
  });

  it('hides the schema: no introspection and no field suggestions, over HTTP and WebSocket', async () => {
    const intro = await app.request('{ __schema { types { name } } }', {}, key);
    expect(codes(intro.body)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    const typo = await app.request('{ tenan { id } }', {}, key);
    expect(typo.body.errors?.[0]?.message).not.toMatch(/did you mean/i);
    await expect(wsOnce(app.wsClient(key), '{ __schema { types { name } } }')).rejects.toSatisfy((errors: unknown) =>
      JSON.stringify(errors).includes('GRAPHQL_VALIDATION_FAILED'),
    );
    await expect(wsOnce(app.wsClient(key), '{ tenan { id } }')).rejects.toSatisfy((errors: unknown) => !/did you mean/i.test(JSON.stringify(errors)));
  });
});

describe('HTTP request protections', () => {
  it('answers 413 to a body over the limit', async () => {
    const res = await fetch(app.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: `{ tenant { id } } # ${'x'.repeat(5000)}` }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses batched operations and malformed JSON with 400', async () => {
    const batch = await fetch(app.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify([{ query: '{ tenant { id } }' }, { query: '{ tenant { id } }' }]),
    });
    expect(batch.status).toBe(400);
    const broken = await fetch(app.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: '{"query":' });
    expect(broken.status).toBe(400);
  });

  it('blocks CSRF-able GET requests, serves preflighted GET queries, and never runs a mutation over GET', async () => {
    const q = encodeURIComponent('{ tenant { id } }');
    const simple = await fetch(`${app.url}?query=${q}`, { headers: { authorization: `Bearer ${key}` } });
    expect(simple.status).toBe(400);
    const preflighted = await fetch(`${app.url}?query=${q}`, { headers: { authorization: `Bearer ${key}`, 'apollo-require-preflight': 'true' } });
    expect(preflighted.status).toBe(200);
    const m = encodeURIComponent('mutation { applyLive(input: { appId: "wx0000000000000000" }) { userErrors { code } } }');
    const mutation = await fetch(`${app.url}?query=${m}`, { headers: { authorization: `Bearer ${key}`, 'apollo-require-preflight': 'true' } });
    expect(mutation.status).toBe(405);
  });
});

describe('error masking', () => {
  it('hides internal errors behind INTERNAL_SERVER_ERROR with the request id, and logs them with it', async () => {
    const requestId = 'req-masking-1';
    const res = await app.request('{ quota(appId: "wx0000000000000001") { used } }', {}, key, { 'x-request-id': requestId });
    expect(res.status).toBe(200);
    expect(res.body.errors).toEqual([
      {
        message: `Internal server error (request id ${requestId})`,
        path: ['quota'],
        locations: [{ line: 1, column: 3 }],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      },
    ]);
    expect(JSON.stringify(res.body)).not.toContain('secret-internal-detail');
    const line = logLines.find((l) => l.includes(requestId));
    expect(line).toContain('secret-internal-detail');
  });

  it('masks them over WebSocket too', async () => {
    const result = await wsOnce(app.wsClient(key), '{ quota(appId: "wx0000000000000001") { used } }');
    expect(result.errors?.[0]?.message).toMatch(/^Internal server error \(request id [\w-]+\)$/);
    expect(JSON.stringify(result)).not.toContain('secret-internal-detail');
  });

  it('answers BAD_USER_INPUT for variables of the wrong type, over HTTP and WebSocket', async () => {
    const query = 'query($first: Int) { liveApplications(first: $first) { edges { cursor } } }';
    const res = await app.request(query, { first: 'many' }, key);
    expect(res.status).toBe(400);
    expect(codes(res.body)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors?.[0]?.message).toMatch(/\$first/);
    const ws = await wsOnce(app.wsClient(key), query, { first: 'many' });
    expect(ws.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('shows domain errors with their code', async () => {
    const res = await app.request('{ quota(appId: "nope") { used } }', {}, key);
    expect(codes(res.body)).toEqual(['INVALID_APP_ID']);
    expect(res.body.errors?.[0]?.message).toContain('not an app id');
  });
});
