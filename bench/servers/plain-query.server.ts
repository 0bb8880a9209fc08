/**
 * Baseline (a) of the query figure: plain node:http running the gateway's SQL (the same service
 * methods: key lookup, page, history) through a postgres-js pool of the same size, answering
 * with JSON.stringify of the same response shape. No GraphQL at all.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { connectPostgres } from '../../src/db/client.js';
import { silentLogger } from '../../src/lib/logger.js';
import { SecretBox } from '../../src/lib/secret-box.js';
import { toConnection } from '../../src/resolvers/connection.js';
import { ApplicationsService } from '../../src/services/applications.service.js';
import { AuthorizersService } from '../../src/services/authorizers.service.js';
import type { ApplicationQueue, ChangePublisher } from '../../src/services/ports.js';
import { TenantsService } from '../../src/services/tenants.service.js';
import { readBody } from '../../src/http/router.js';
import { appRole, announce, exitOnSignal } from '../support/processes.js';

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

const server = createServer((req, res) => {
  void (async () => {
    const body = JSON.parse((await readBody(req, 1024 * 1024)).toString('utf8')) as { variables?: { first?: number } };
    const authorization = req.headers.authorization ?? '';
    const tenant = await tenants.authenticate(authorization.replace(/^bearer\s+/i, ''));
    if (!tenant) {
      res.writeHead(401).end();
      return;
    }
    const page = await applications.list(tenant, { first: body.variables?.first ?? 20 });
    const history = await applications.historyFor(
      tenant,
      page.items.map((a) => a.id),
    );
    const connection = toConnection(page);
    const json = JSON.stringify({
      data: {
        liveApplications: {
          edges: connection.edges.map(({ cursor, node: { tenantId: _, ...node } }) => ({ cursor, node: { ...node, history: history.get(node.id) ?? [] } })),
          pageInfo: connection.pageInfo,
        },
      },
    });
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  })().catch(() => {
    if (!res.headersSent) res.writeHead(500).end();
  });
});
server.listen(0, '127.0.0.1', () => {
  announce('READY', { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
});
exitOnSignal(async () => {
  server.close();
  await database.close();
});
