/**
 * The floor of figure 7's token reads: plain node:http answering POST /graphql with the JSON a
 * `{ componentAccessToken { token expiresAt } }` gets, from one Redis GET of the cached token
 * (BENCH_TOKEN_KEY). No GraphQL, no API key, no rate limit: what HTTP and JSON cost on this box.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { announce, exitOnSignal } from '../support/processes.js';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const key = process.env.BENCH_TOKEN_KEY ?? '';

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    redis.get(key).then(
      (raw) => {
        const cached = JSON.parse(raw ?? '{}') as { t?: string; e?: number };
        const json = JSON.stringify({ data: { componentAccessToken: { token: cached.t ?? null, expiresAt: new Date(cached.e ?? 0).toISOString() } } });
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
        res.end(json);
      },
      () => res.writeHead(500).end(),
    );
  });
});
server.listen(0, '127.0.0.1', () => {
  announce('READY', { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
});
exitOnSignal(async () => {
  server.close();
  redis.disconnect();
});
