import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayProcess, spawnGateway } from '../faults/support/gateway-process.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';

/**
 * The SDK as the process entry points start it: a worker process with OTEL_EXPORTER_OTLP_ENDPOINT
 * pointing at a stand-in collector (OTLP/HTTP, JSON) sends its spans there, the last batch at SIGTERM.
 */

let env: TestEnv;
let collector: Server;
let collectorUrl: string;
const received: { path: string; body: string }[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  collector = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => {
      received.push({ path: req.url ?? '', body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => collector?.close(resolve));
  await env?.cleanup();
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('the tracing SDK', () => {
  it('exports a worker process spans to OTEL_EXPORTER_OTLP_ENDPOINT over OTLP/HTTP', async () => {
    const port = await freePort();
    let worker: GatewayProcess | undefined;
    try {
      worker = await spawnGateway('worker', {
        DATABASE_URL: env.databaseUrl,
        REDIS_URL: env.redisUrl,
        REDIS_PREFIX: env.redisPrefix,
        SECRET_KEY: env.secretKey.toString('base64'),
        WECHAT_API_BASE: 'http://127.0.0.1:9',
        METRICS_PORT: String(port),
        HOST: '127.0.0.1',
        OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
      });
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      expect(await worker.stop()).toBe(0);
    } finally {
      await worker?.kill();
    }
    const traces = await expectEventually(() => {
      const posts = received.filter((r) => r.path === '/v1/traces');
      expect(posts.length).toBeGreaterThan(0);
      return posts.map((p) => p.body).join('\n');
    });
    expect(traces).toContain('GET /readyz');
    expect(traces).toContain('db asSystem');
    expect(traces).toContain('wxlive-gateway');
  });
});
