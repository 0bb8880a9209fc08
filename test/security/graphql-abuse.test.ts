import { type Client, createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { PARSE_OPTIONS } from '../../src/graphql/protection.js';
import { collect, wsOnce } from '../graphql/support/graphql-harness.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';
import { watchProcessErrors } from './support/log-capture.js';
import { type RealApp, startRealApp } from './support/real-app.js';
import { tenantSnapshot } from './support/tenant-snapshot.js';

let env: TestEnv;
/** The real app with its default limits (depth 8, cost 20000, 30 aliases, 1 MiB, 10,000 tokens). */
let real: RealApp;
/** The real app with tight limits from the environment, so depth abuse is reachable with real fields. */
let strict: RealApp;
let key: string;
let tenantId: string;
const clients: Client[] = [];
const processErrors = watchProcessErrors();

beforeAll(async () => {
  env = await createTestEnv();
  const quiet = { ROLE: 'api', WECHAT_API_BASE: 'http://127.0.0.1:9' };
  real = await startRealApp(env, quiet);
  strict = await startRealApp(env, { ...quiet, GRAPHQL_MAX_DEPTH: '3', GRAPHQL_MAX_ALIASES: '2', GRAPHQL_MAX_COST: '60' });
  const t = await real.tenant();
  key = t.apiKey;
  tenantId = t.id;
});

afterAll(async () => {
  processErrors.stop();
  await Promise.all(clients.map((c) => c.dispose()));
  await real?.stop();
  await strict?.stop();
  await env?.cleanup();
});

function wsClient(app: RealApp, onClose?: (code: number) => void): Client {
  const client = createClient({
    url: `${app.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
    retryAttempts: 0,
    lazy: true,
    on: onClose ? { closed: (event) => onClose((event as { code: number }).code) } : {},
  });
  clients.push(client);
  return client;
}

function codes(body: unknown): string[] {
  return ((body as { errors?: { extensions?: { code?: string } }[] }).errors ?? []).map((e) => e.extensions?.code ?? '');
}

function messages(body: unknown): string {
  return ((body as { errors?: { message: string }[] }).errors ?? []).map((e) => e.message).join(' | ');
}

/** The same abuse over HTTP (status and code) and over WebSocket (the code of the operation's error). */
async function expectRejected(app: RealApp, query: string, status: number, code: string, message?: RegExp, variables?: Record<string, unknown>) {
  const res = await app.graphql(query, variables, key);
  expect({ status: res.status, codes: [...new Set(codes(res.body))] }).toEqual({ status, codes: [code] });
  expect(res.body.data).toBeUndefined();
  if (message) expect(messages(res.body)).toMatch(message);
  const ws = await wsOnce(wsClient(app), query, variables).then(
    (result) => result,
    (errors: unknown) => ({ errors }),
  );
  expect(JSON.stringify(ws)).toContain(code);
  if (message) expect(JSON.stringify(ws)).toMatch(message);
}

const manyOperations = (n: number) => Array.from({ length: n }, (_, i) => `query Q${i} { tenant { id } }`).join('\n');

describe('depth, cost and aliases', () => {
  // The schema's real fields reach depth 5, under the default 8; the limit is checked on an app configured lower.
  it('rejects a query deeper than GRAPHQL_MAX_DEPTH (400 GRAPHQL_VALIDATION_FAILED)', async () => {
    await expectRejected(strict, '{ liveApplications { edges { node { history { type } } } } }', 400, 'GRAPHQL_VALIDATION_FAILED', /depth limit of 3/);
  });

  it('rejects more aliases than GRAPHQL_MAX_ALIASES, also when spread through fragments', async () => {
    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: tenant { id }`).join(' ');
    await expectRejected(real, `{ ${aliases} }`, 400, 'GRAPHQL_VALIDATION_FAILED', /aliases limit of 30/i);
    const fragment = `fragment F on Query { ${Array.from({ length: 4 }, (_, i) => `f${i}: tenant { id }`).join(' ')} }`;
    await expectRejected(real, `{ ${'...F '.repeat(8)} } ${fragment}`, 400, 'GRAPHQL_VALIDATION_FAILED', /aliases limit of 30/i);
    await expectRejected(strict, '{ a: tenant { id } b: tenant { id } c: tenant { id } }', 400, 'GRAPHQL_VALIDATION_FAILED', /aliases limit of 2/i);
  });

  it('rejects a query over GRAPHQL_MAX_COST, counting repeated fields and fragment spreads', async () => {
    const fragment = 'fragment A on LiveApplication { id appId status errcode errmsg attempts history { id type status message at } }';
    await expectRejected(
      real,
      `{ liveApplications(first: 100) { edges { node { ${'...A '.repeat(400)} } } } } ${fragment}`,
      400,
      'GRAPHQL_VALIDATION_FAILED',
      /cost limit of 20000/i,
    );
    await expectRejected(strict, '{ authorizers(first: 10) { pageInfo { hasNextPage } } }', 400, 'GRAPHQL_VALIDATION_FAILED', /cost limit of 60/i);
  });

  it('accepts the largest ordinary page: liveApplications(first: 100) with every field and its history', async () => {
    const fields = 'id appId status errcode errmsg errorCode attempts createdAt submittedAt openedAt expiresAt updatedAt cursor';
    const res = await real.graphql(
      `{ liveApplications(first: 100) { edges { cursor node { ${fields} history { id type status errcode errmsg latencyMs attempt message at } } } pageInfo { hasNextPage endCursor } } }`,
      {},
      key,
    );
    expect(res.body.errors).toBeUndefined();
  });

  it('rejects fragment cycles without recursing forever', async () => {
    await expectRejected(
      real,
      '{ tenant { ...A } } fragment A on Tenant { id ...B } fragment B on Tenant { name ...A }',
      400,
      'GRAPHQL_VALIDATION_FAILED',
      /within itself/,
    );
  });

  it('still answers a legitimate query after all of it', async () => {
    const res = await real.graphql<{ tenant: { id: string } }>('{ tenant { id } }', {}, key);
    expect(res.body.data?.tenant.id).toBe(tenantId);
  });
});

describe('batches and floods of operations', () => {
  it('refuses a batched array of operations over HTTP (400 BAD_REQUEST), however long', async () => {
    for (const n of [2, 5000]) {
      const res = await real.fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify(Array(n).fill({ query: 'mutation { applyLiveBatch(appIds: ["wx0000000000000000"]) { userErrors { code } } }' })),
      });
      expect(res.status).toBe(400);
      expect(codes(JSON.parse(res.text))).toEqual(['BAD_REQUEST']);
    }
  });

  it(`refuses a document over ${PARSE_OPTIONS.maxTokens} tokens (400 GRAPHQL_PARSE_FAILED), with or without an operation name`, async () => {
    const flood = manyOperations(20_000);
    for (const operationName of [undefined, 'Q7']) {
      const res = await real.fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: flood, operationName }),
      });
      expect(res.status).toBe(400);
      expect(codes(JSON.parse(res.text))).toEqual(['GRAPHQL_PARSE_FAILED']);
      expect(res.text).toMatch(/10000 tokens/);
    }
    await expectRejected(real, flood, 400, 'GRAPHQL_PARSE_FAILED', /10000 tokens/);
    const unusedVariables = `query(${Array.from({ length: 3000 }, (_, i) => `$v${i}: Int`).join(' ')}) { tenant { id } }`;
    await expectRejected(real, unusedVariables, 400, 'GRAPHQL_PARSE_FAILED', /tokens/);
    await expectRejected(real, `{ tenant { id ${'@include(if: true) '.repeat(3000)} } }`, 400, 'GRAPHQL_PARSE_FAILED', /tokens/);
  });

  it('needs an operation name for a document of several operations (400 OPERATION_RESOLUTION_FAILURE)', async () => {
    await expectRejected(real, manyOperations(50), 400, 'OPERATION_RESOLUTION_FAILURE', /operation/i);
  });

  it('refuses nesting deep enough to exhaust the parser’s stack as a parse failure', async () => {
    const res = await real.graphql(`{ liveApplications(filter: { appId: ${'['.repeat(4000)}"x"${']'.repeat(4000)} }) { edges { cursor } } }`, {}, key);
    expect(res.status).toBe(400);
    expect(codes(res.body)).toEqual(['GRAPHQL_PARSE_FAILED']);
  });
});

describe('ids and cursors that look like ours', () => {
  it('answers ids and cursors Postgres would refuse as unknown (null, NOT_FOUND, INVALID_INPUT), never INTERNAL_SERVER_ERROR', async () => {
    const dashes = '-'.repeat(36);
    const cursor = (text: string) => Buffer.from(text).toString('base64url');
    const uuid = '00000000-0000-4000-8000-000000000000';
    const one = await real.graphql('query($id: ID!) { liveApplication(id: $id) { id } }', { id: dashes }, key);
    expect(one.body).toEqual({ data: { liveApplication: null } });
    const cancel = await real.graphql('mutation($id: ID!) { cancelLiveApplication(id: $id) { userErrors { code } } }', { id: dashes }, key);
    expect(cancel.body).toEqual({ data: { cancelLiveApplication: { userErrors: [{ code: 'NOT_FOUND' }] } } });
    for (const after of [
      cursor(`2026-01-01T00:00:00.000Z|${dashes}`),
      cursor(`-100000-01-01T00:00:00.000Z|${uuid}`),
      cursor(`+275000-01-01T00:00:00.000Z|${uuid}`),
    ]) {
      for (const field of ['liveApplications', 'authorizers']) {
        const res = await real.graphql(`query($after: String) { ${field}(after: $after) { edges { cursor } } }`, { after }, key);
        expect({ after, field, codes: codes(res.body) }).toEqual({ after, field, codes: ['INVALID_INPUT'] });
      }
    }
  });
});

describe('huge variables', () => {
  it('answers 413 PAYLOAD_TOO_LARGE to variables over the 1 MiB body limit, storing nothing', async () => {
    const before = await tenantSnapshot(env, tenantId);
    const res = await real.graphql(
      'mutation($input: [ImportAuthorizerInput!]!) { importAuthorizers(input: $input) { userErrors { code } } }',
      { input: Array.from({ length: 5000 }, (_, i) => ({ appId: `wx${String(i).padStart(16, '0')}`, refreshToken: 'r'.repeat(200) })) },
      key,
    );
    expect(res.status).toBe(413);
    expect(codes(res.body)).toEqual(['PAYLOAD_TOO_LARGE']);
    expect(await tenantSnapshot(env, tenantId)).toEqual(before);
  });

  it('answers BATCH_TOO_LARGE to a quarter of a million app ids under the limit, storing nothing', async () => {
    const before = await tenantSnapshot(env, tenantId);
    const batch = 'mutation($appIds: [String!]!) { applyLiveBatch(appIds: $appIds) { results { appId } userErrors { code } } }';
    const res = await real.graphql<{ applyLiveBatch: { results: unknown[]; userErrors: { code: string }[] } }>(
      batch,
      { appIds: Array(250_000).fill('a') },
      key,
    );
    expect(res.status).toBe(200);
    expect(res.body.data?.applyLiveBatch).toEqual({ results: [], userErrors: [{ code: 'BATCH_TOO_LARGE' }] });
    const imports = 'mutation($input: [ImportAuthorizerInput!]!) { importAuthorizers(input: $input) { results { appId } userErrors { code } } }';
    const many = await real.graphql<{ importAuthorizers: { userErrors: { code: string }[] } }>(
      imports,
      { input: Array(20_000).fill({ appId: 'a', refreshToken: 'b' }) },
      key,
    );
    expect(many.body.data?.importAuthorizers.userErrors).toEqual([{ code: 'BATCH_TOO_LARGE' }]);
    expect(await tenantSnapshot(env, tenantId)).toEqual(before);
  });

  it('answers BAD_USER_INPUT to deeply nested and mistyped variables, and BAD_REQUEST to variables that are not an object', async () => {
    const deep = await real.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: `{"query":"mutation($appIds: [String!]!) { applyLiveBatch(appIds: $appIds) { userErrors { code } } }","variables":{"appIds":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`,
    });
    expect([deep.status, codes(JSON.parse(deep.text))]).toEqual([400, ['BAD_USER_INPUT']]);
    await expectRejected(real, 'query($first: Int) { liveApplications(first: $first) { edges { cursor } } }', 400, 'BAD_USER_INPUT', /\$first/, {
      first: { $gt: 1 },
    });
    for (const variables of ['[]', '"x"', '1']) {
      const res = await real.fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: `{"query":"{ tenant { id } }","variables":${variables}}`,
      });
      expect([res.status, codes(JSON.parse(res.text))]).toEqual([400, ['BAD_REQUEST']]);
    }
  });

  it('closes a WebSocket whose message is over the 1 MiB limit (1009) and keeps serving others', async () => {
    const closes: number[] = [];
    const client = wsClient(real, (code) => closes.push(code));
    const big = collect(client, 'query($a: String!) { authorizer(appId: $a) { id } }', { a: 'x'.repeat(1024 * 1024 + 1) });
    await expectEventually(() => expect(closes).toEqual([1009]));
    big.dispose();
    const ok = await wsOnce<{ tenant: { id: string } }>(wsClient(real), '{ tenant { id } }');
    expect(ok.data?.tenant.id).toBe(tenantId);
  });
});

/** A graphql-ws socket driven by hand, for messages a well-behaved client never sends. */
async function rawSocket(): Promise<{ socket: WebSocket; closed: Promise<number>; acked: Promise<void> }> {
  const socket = new WebSocket(`${real.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  const acked = new Promise<void>((resolve) =>
    socket.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type === 'connection_ack') resolve();
    }),
  );
  await new Promise((resolve) => socket.once('open', resolve));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } }));
  return { socket, closed, acked };
}

describe('graphql-ws protocol abuse (codes of graphql-ws PROTOCOL.md)', () => {
  it('closes with 4400 on a batched array of messages or a subscribe whose query is not a string', async () => {
    for (const message of [
      JSON.stringify([{ id: '1', type: 'subscribe', payload: { query: '{ tenant { id } }' } }]),
      JSON.stringify({ id: '1', type: 'subscribe', payload: { query: ['{ tenant { id } }', '{ tenant { id } }'] } }),
      'not json',
    ]) {
      const { socket, closed, acked } = await rawSocket();
      await acked;
      socket.send(message);
      expect(await closed).toBe(4400);
    }
  });

  it('closes with 4409 on a second subscribe with an id in use, and 4429 on a second connection_init', async () => {
    const first = await rawSocket();
    await first.acked;
    const subscribe = JSON.stringify({ id: 'same', type: 'subscribe', payload: { query: 'subscription { liveApplicationUpdated { id } }' } });
    first.socket.send(subscribe);
    first.socket.send(subscribe);
    expect(await first.closed).toBe(4409);
    const second = await rawSocket();
    await second.acked;
    second.socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } }));
    expect(await second.closed).toBe(4429);
  });

  it('releases every subscription of a socket that opened hundreds and went away', async () => {
    const open = async () => (await real.app.metrics.registry.getSingleMetric('wxlive_graphql_subscriptions_open')?.get())?.values[0]?.value ?? 0;
    const baseline = await open();
    const { socket, acked } = await rawSocket();
    await acked;
    for (let i = 0; i < 300; i++) {
      socket.send(JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query: 'subscription { liveApplicationUpdated { id } }' } }));
    }
    await expectEventually(async () => expect(await open()).toBe(baseline + 300));
    socket.terminate();
    await expectEventually(async () => expect(await open()).toBe(baseline));
  });
});

describe('the process', () => {
  it('saw no unhandled rejection or uncaught exception, and still answers', async () => {
    expect((await real.fetch('/healthz')).status).toBe(200);
    expect(processErrors.errors).toEqual([]);
  });
});
