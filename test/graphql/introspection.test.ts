import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { type GraphqlApp, startGraphqlApp, wsOnce } from './support/graphql-harness.js';

let env: TestEnv;
let app: GraphqlApp;
let key: string;
beforeAll(async () => {
  env = await createTestEnv();
  // GRAPHQL_INTROSPECTION's default.
  app = await startGraphqlApp(env, { config: { introspection: true } });
  key = (await createTenantWithMerchants(env.database.db, env.box, 0)).apiKey.key;
});
afterAll(async () => {
  await app?.close();
  await env?.cleanup();
});

const codes = (body: { errors?: { extensions?: { code?: string } }[] }) => (body.errors ?? []).map((e) => e.extensions?.code);

describe('introspection (on by default, for keyed requests)', () => {
  it("answers the standard introspection query (GraphiQL's and codegen's) to a valid key, over HTTP and WebSocket", async () => {
    const res = await app.request<{ __schema: { types: { name: string }[] } }>(getIntrospectionQuery(), {}, key);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.__schema.types.map((t) => t.name)).toEqual(expect.arrayContaining(['LiveApplication', 'ErrorCode', 'PageInfo']));
    const ws = await wsOnce<{ __type: { name: string } }>(app.wsClient(key), '{ __type(name: "LiveApplication") { name } }');
    expect(ws.data?.__type.name).toBe('LiveApplication');
  });

  it('refuses it to anonymous requests and to bad keys', async () => {
    expect(codes((await app.request(getIntrospectionQuery(), {})).body)).toEqual(['UNAUTHENTICATED']);
    expect(codes((await app.request('{ __schema { types { name } } }', {}, 'wxl_nope')).body)).toEqual(['UNAUTHENTICATED']);
  });

  it('bounds how deep an introspection query nests', async () => {
    const deep = `{ __schema { types { fields { type { ${'ofType { '.repeat(25)}name${' }'.repeat(25)} } } } } }`;
    expect(codes((await app.request(deep, {}, key)).body)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });
});
