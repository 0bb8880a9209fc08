/**
 * Baseline of the webhook figure: plain node:http reading the body and doing the webhook's INSERT
 * (InboxStore.insert, the same statement) through a postgres-js pool of the same size, answering
 * `success`. No verification, decryption, replay check or processing.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connectPostgres } from '../../src/db/client.js';
import { readBody } from '../../src/http/router.js';
import { utcDay } from '../../src/lib/clock.js';
import { InboxStore } from '../../src/webhooks/inbox.store.js';
import { announce, appRole, exitOnSignal } from '../support/processes.js';

// As the gateway connects (DATABASE_APP_ROLE): the same row-level security, so the comparison is the serving path.
const database = connectPostgres(process.env.DATABASE_URL as string, { max: Number(process.env.DB_POOL_SIZE ?? 10), role: appRole() });
const inbox = new InboxStore(database.db);
const tenantId = process.env.BENCH_TENANT_ID as string;
const run = randomBytes(4).toString('hex');
let serial = 0;

const server = createServer((req, res) => {
  void (async () => {
    const body = await readBody(req, 1024 * 1024);
    const payload = body.toString('utf8');
    serial++;
    // The gateway also keeps the request as it came (for RELAY endpoints): so does the baseline.
    const rawQuery = req.url?.split('?')[1] ?? '';
    await inbox.insert(
      {
        tenantId,
        kind: 'event',
        appId: null,
        eventType: 'plain',
        dedupKey: `plain:${run}:${serial}`,
        payload,
        rawQuery,
        rawBody: body,
        contentType: req.headers['content-type'] ?? null,
        pushedOn: utcDay(new Date().getTime()),
        receivedAt: new Date(),
      },
      'processed',
    );
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 7 }).end('success');
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
