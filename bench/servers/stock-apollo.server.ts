/**
 * Baseline (b) of the query figure: stock @apollo/server 5 (`startStandaloneServer`, default
 * plugins, graphql-js execution) with straightforward resolvers over the same service methods:
 * the key looked up per request, per-field resolvers, a DataLoader for history.
 */
import { randomBytes } from 'node:crypto';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';
import { connectPostgres } from '../../src/db/client.js';
import { silentLogger } from '../../src/lib/logger.js';
import { SecretBox } from '../../src/lib/secret-box.js';
import { toConnection } from '../../src/resolvers/connection.js';
import { ApplicationsService } from '../../src/services/applications.service.js';
import { AuthorizersService } from '../../src/services/authorizers.service.js';
import type { TenantContext } from '../../src/services/context.js';
import type { HistoryEventView, LiveApplicationView } from '../../src/services/live-application.view.js';
import type { ApplicationQueue, ChangePublisher } from '../../src/services/ports.js';
import { TenantsService } from '../../src/services/tenants.service.js';
import { appRole, announce, exitOnSignal } from '../support/processes.js';

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

// As the gateway connects (DATABASE_APP_ROLE): the same row-level security, so the comparison is the serving path.
const database = connectPostgres(process.env.DATABASE_URL as string, { max: Number(process.env.DB_POOL_SIZE ?? 10), role: appRole() });
const box = new SecretBox(randomBytes(32));
const unused = async (): Promise<never> => {
  throw new Error('not used by this baseline');
};
const queue: ApplicationQueue = { enqueue: unused, remove: unused, scheduleExpiry: unused };
const publisher: ChangePublisher = { publish: unused };
const tenants = new TenantsService(database.db, box);
const applications = new ApplicationsService({
  db: database.db,
  authorizers: new AuthorizersService(database.db, box),
  queue,
  publisher,
  logger: silentLogger,
});

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
