/**
 * Baseline (a) of the query figure: plain node:http running the gateway's SQL (the same service
 * methods: key lookup, page, history) through a postgres-js pool of the same size, answering
 * with JSON.stringify of the same response shape. No GraphQL at all.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toConnection } from '../../src/resolvers/connection.js';
import { readBody } from '../../src/http/router.js';
import { baselineReadServices } from '../support/baseline-services.js';
import { announce, exitOnSignal } from '../support/processes.js';

const { database, tenants, applications } = baselineReadServices();

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
