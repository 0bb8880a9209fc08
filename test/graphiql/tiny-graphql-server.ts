import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema, graphql } from 'graphql';
// Renamed: graphql-ws's `useServer` is not a React hook, whatever its name tells the linter.
import { useServer as serveGraphqlWs } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { graphiqlRoutes } from '../../src/http/graphiql.js';
import { createRouter, type Route, readBody, sendJson } from '../../src/http/router.js';
import { silentLogger } from '../../src/lib/logger.js';

/** Echoes the caller's Authorization back, so a test sees what the page sent over HTTP and WebSocket. */
const schema = buildSchema(`
  type Query { whoami: String }
  type Subscription { countdown(from: Int!): String! }
`);

interface Ctx {
  authorization: string | undefined;
}

const rootValue = {
  whoami: (_args: unknown, ctx: Ctx) => ctx.authorization ?? null,
  async *countdown({ from }: { from: number }, ctx: Ctx) {
    for (let n = from; n >= 1; n--) {
      await new Promise((r) => setTimeout(r, 20));
      yield { countdown: `${ctx.authorization ?? 'none'}:${n}` };
    }
  },
};

export interface TinyServer {
  origin: string;
  /** `connectionParams.authorization` of every WebSocket connection, in order. */
  wsConnections: (string | undefined)[];
  /** Authorization headers of the HTTP GraphQL requests, in order. */
  httpAuthorizations: (string | undefined)[];
  server: Server;
  close(): Promise<void>;
}

/**
 * A stand-in for the gateway's GraphQL endpoint (no app composition root exists yet): graphql-js
 * over POST and graphql-ws on the same path, with the GraphiQL routes mounted as the app mounts them.
 */
export async function startTinyServer(): Promise<TinyServer> {
  const wsConnections: (string | undefined)[] = [];
  const httpAuthorizations: (string | undefined)[] = [];
  const graphqlRoute: Route = {
    method: 'ALL',
    path: '/graphql',
    async handler({ req, res }) {
      if (req.method !== 'POST') {
        sendJson(res, 405, { errors: [{ message: 'POST only' }] });
        return;
      }
      const body = JSON.parse((await readBody(req, 1_000_000)).toString('utf8')) as {
        query: string;
        variables?: Record<string, unknown>;
        operationName?: string;
      };
      httpAuthorizations.push(req.headers.authorization);
      const result = await graphql({
        schema,
        source: body.query,
        rootValue,
        contextValue: { authorization: req.headers.authorization } satisfies Ctx,
        variableValues: body.variables ?? null,
        operationName: body.operationName ?? null,
      });
      sendJson(res, 200, result);
    },
  };
  const server = createServer(createRouter(graphiqlRoutes(graphqlRoute), silentLogger));
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const ws = serveGraphqlWs<Record<string, unknown>, { authorization?: string }>(
    {
      schema,
      roots: { subscription: rootValue },
      onConnect(ctx) {
        const authorization = typeof ctx.connectionParams?.authorization === 'string' ? ctx.connectionParams.authorization : undefined;
        wsConnections.push(authorization);
        // As the gateway does for an unknown or revoked key: close with 4403.
        return authorization !== 'Bearer revoked';
      },
      context: (ctx): Ctx => ({
        authorization: typeof ctx.connectionParams?.authorization === 'string' ? ctx.connectionParams.authorization : undefined,
      }),
    },
    wss,
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    wsConnections,
    httpAuthorizations,
    server,
    async close() {
      await ws.dispose();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
