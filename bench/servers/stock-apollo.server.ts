/**
 * Baseline (b) of the query figure: stock @apollo/server 5 (`startStandaloneServer`, default
 * plugins, graphql-js execution) with straightforward resolvers over the same service methods:
 * the key looked up per request, per-field resolvers, a DataLoader for history.
 */
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';
import { toConnection } from '../../src/resolvers/connection.js';
import type { TenantContext } from '../../src/services/context.js';
import type { HistoryEventView, LiveApplicationView } from '../../src/services/live-application/index.js';
import { baselineReadServices } from '../support/baseline-services.js';
import { announce, exitOnSignal } from '../support/processes.js';

const typeDefs = `#graphql
  scalar DateTime
  enum LiveApplicationStatus { QUEUED SUBMITTED OPENED REJECTED EXPIRED FAILED CANCELLED }
  type LiveApplicationEvent {
    id: ID!
    type: String!
    status: LiveApplicationStatus
    errcode: Int
    errmsg: String
    latencyMs: Int
    attempt: Int
    message: String
    at: DateTime!
  }
  type LiveApplication {
    id: ID!
    appId: String!
    status: LiveApplicationStatus!
    errcode: Int
    errmsg: String
    errorCode: String
    attempts: Int!
    idempotencyKey: String
    createdAt: DateTime!
    submittedAt: DateTime
    openedAt: DateTime
    expiresAt: DateTime
    updatedAt: DateTime!
    history: [LiveApplicationEvent!]!
  }
  type LiveApplicationEdge { cursor: String! node: LiveApplication! }
  type PageInfo { hasNextPage: Boolean! endCursor: String }
  type LiveApplicationConnection { edges: [LiveApplicationEdge!]! pageInfo: PageInfo! }
  type Query { liveApplications(first: Int, after: String): LiveApplicationConnection! }
`;

interface Context {
  tenant: TenantContext;
  history: DataLoader<string, HistoryEventView[]>;
}

const { database, tenants, applications } = baselineReadServices();

const resolvers = {
  Query: {
    liveApplications: async (_: unknown, args: { first?: number | null; after?: string | null }, { tenant }: Context) =>
      toConnection(await applications.list(tenant, args)),
  },
  LiveApplication: {
    history: (application: LiveApplicationView, _: unknown, { history }: Context) => history.load(application.id),
  },
};

const apollo = new ApolloServer<Context>({ typeDefs, resolvers });
const { url } = await startStandaloneServer(apollo, {
  listen: { port: 0, host: '127.0.0.1' },
  context: async ({ req }) => {
    const tenant = await tenants.authenticate((req.headers.authorization ?? '').replace(/^bearer\s+/i, ''));
    if (!tenant) throw new GraphQLError('Unauthenticated', { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
    return {
      tenant,
      history: new DataLoader(async (ids: readonly string[]) => {
        const map = await applications.historyFor(tenant, ids);
        return ids.map((id) => map.get(id) ?? []);
      }),
    };
  },
});
announce('READY', { url: url.replace(/\/$/, '') });
exitOnSignal(async () => {
  await apollo.stop();
  await database.close();
});
