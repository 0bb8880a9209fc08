import { Worker } from 'node:worker_threads';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type App, createApp } from '../../src/app/create-app.js';
import { RedisApiKeyInvalidations } from '../../src/events/api-key-invalidations.js';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { ApiKeysService } from '../../src/services/api-keys/api-keys.service.js';
import { TenantsService } from '../../src/services/tenants.service.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';

let env: TestEnv;
let app: App;

beforeAll(async () => {
  env = await createTestEnv();
  // Defaults high enough that the measuring tenant never meets its own limit; the flooding one gets a low one of its own.
  app = await createApp(env.config({ ROLE: 'api', RATE_LIMIT_PER_SECOND: '100000', RATE_LIMIT_BURST: '100000' }));
});

afterAll(async () => {
  await app?.stop();
  await env?.cleanup();
});

const TENANT = '{ tenant { id } }';

async function post(key: string, accept?: string) {
  const res = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...(accept ? { accept } : {}) },
    body: JSON.stringify({ query: TENANT }),
  });
  const text = await res.text();
  const body = JSON.parse(text) as { data?: unknown; errors?: { message: string; extensions?: { code?: string; retryAfter?: number } }[] };
  return { status: res.status, retryAfter: res.headers.get('retry-after'), contentType: res.headers.get('content-type'), text, body };
}

/** Sequential requests; each one's latency in ms. */
async function measure(key: string, n: number): Promise<{ latencies: number[]; statuses: number[] }> {
  const latencies: number[] = [];
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const res = await post(key);
    latencies.push(performance.now() - started);
    statuses.push(res.status);
  }
  return { latencies, statuses };
}

/** `loops` request loops of one API key in a worker thread, until stopped; answers every status it got. */
class Flood {
  private readonly worker: Worker;
  private readonly done: Promise<number[]>;

  constructor(url: string, key: string, loops: number) {
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      let flooding = true;
      const statuses = [];
      parentPort.on('message', () => { flooding = false; });
      const body = JSON.stringify({ query: '{ tenant { id } }' });
      const loop = async () => {
        while (flooding) {
          const res = await fetch(workerData.url + '/graphql', { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + workerData.key }, body });
          await res.arrayBuffer();
          statuses.push(res.status);
        }
      };
      Promise.all(Array.from({ length: workerData.loops }, loop)).then(() => parentPort.postMessage(statuses));`;
    this.worker = new Worker(code, { eval: true, workerData: { url, key, loops } });
    this.done = new Promise((resolve, reject) => {
      this.worker.once('message', (statuses: number[]) => resolve(statuses));
      this.worker.once('error', reject);
    });
  }

  async stop(): Promise<number[]> {
    this.worker.postMessage('stop');
    const statuses = await this.done;
    await this.worker.terminate();
    return statuses;
  }
}

const p99 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.ceil(values.length * 0.99) - 1] ?? Number.NaN;

describe('rate limits per API key', () => {
  it("answers a key over its tenant's limit 429 with Retry-After and RATE_LIMITED, while another tenant's requests all succeed", async () => {
    const flooder = await createTenantWithMerchants(env.database.db, env.box, 0);
    const other = await createTenantWithMerchants(env.database.db, env.box, 0);
    await app.services.tenants.update(flooder.tenant.id, { rateLimitPerSecond: 20, rateLimitBurst: 20 });

    // Warmed up first: the first requests of a process (compiling the query, opening connections)
    // take up to tens of ms and would be the unloaded p99 of 200.
    await measure(other.apiKey.key, 50);
    const unloaded = await measure(other.apiKey.key, 200);
    expect(unloaded.statuses.every((s) => s === 200)).toBe(true);

    // The flood comes from a thread of its own (its own event loop, as another machine's would be),
    // so what the other tenant's latency measures is what the gateway spends on refusing it, not
    // the flooding client's own work in the gateway's event loop.
    const flood = new Flood(app.url as string, flooder.apiKey.key, 8);
    const refusals: Awaited<ReturnType<typeof post>>[] = [];
    let ownRefused = 0;
    // The flood is on once the flooder is being refused (seen by a request of the flooder's own here).
    await expectEventually(async () => {
      const res = await post(flooder.apiKey.key);
      if (res.status === 429) ownRefused++;
      if (res.status === 429 && refusals.length < 5) refusals.push(res);
      expect(refusals.length).toBeGreaterThan(0);
    });
    const loaded = await measure(other.apiKey.key, 200);
    // The HTTP handler answers a refusal itself (before parsing the body); an accept value it leaves
    // to Apollo's negotiation gets Apollo's own answer: the two are the same bytes.
    // (The flooder earns 20 tokens a second: a request of its may get one; the next refused one counts.)
    let viaApollo: Awaited<ReturnType<typeof post>> | undefined;
    await expectEventually(async () => {
      const res = await post(flooder.apiKey.key, 'application/json; charset=utf-8');
      if (res.status === 429) {
        ownRefused++;
        viaApollo = res;
      }
      expect(viaApollo?.status).toBe(429);
    });
    const floodStatuses = await flood.stop();
    const [early] = refusals;
    expect({ contentType: early?.contentType, text: early?.text.replace(/\d+/g, 'N') }).toEqual({
      contentType: viaApollo?.contentType,
      text: viaApollo?.text.replace(/\d+/g, 'N'),
    });

    // The functional property: the other tenant is never limited and every request of its succeeds.
    expect(loaded.statuses.filter((s) => s !== 200)).toEqual([]);
    const ratio = p99(loaded.latencies) / p99(unloaded.latencies);
    console.info(
      `rate-limit flood: other tenant p99 unloaded ${p99(unloaded.latencies).toFixed(1)} ms, under flood ${p99(loaded.latencies).toFixed(1)} ms (x${ratio.toFixed(2)}); flooder ${floodStatuses.length} requests, ${floodStatuses.filter((s) => s === 429).length} refused`,
    );

    expect(new Set(floodStatuses)).toEqual(new Set([200, 429]));
    // Every refusal, answered early or by Apollo, is in the metrics once.
    const rateLimited = (await app.metrics.graphqlErrors.get()).values.find((v) => v.labels.code === 'RATE_LIMITED')?.value;
    expect(rateLimited).toBe(floodStatuses.filter((s) => s === 429).length + ownRefused);
    for (const refused of refusals) {
      expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
      const [error] = refused.body.errors ?? [];
      expect(error?.extensions).toEqual({ code: 'RATE_LIMITED', retryAfter: Number(refused.retryAfter) });
      expect(error?.message).toContain('wxlive tenant update --rate-limit');
      expect(refused.body.data).toBeUndefined();
    }
  }, 60_000);

  it('counts a WebSocket connection once, at connect: over the limit it is refused with 4429 and a reason saying so', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    await app.services.tenants.update(t.tenant.id, { rateLimitPerSecond: 1, rateLimitBurst: 1 });
    expect((await post(t.apiKey.key)).status).toBe(200);
    const closed = await new Promise<{ code: number; reason: string }>((resolve) => {
      const client = createClient({
        url: `${(app.url as string).replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${t.apiKey.key}` },
        retryAttempts: 0,
        on: { closed: (event) => resolve(event as { code: number; reason: string }) },
      });
      client.subscribe({ query: 'subscription { liveApplicationUpdated { id } }' }, { next: () => {}, error: () => {}, complete: () => {} });
    });
    expect(closed.code).toBe(4429);
    expect(closed.reason).toMatch(/^RATE_LIMITED: .*retry after \d+ s$/);
  });

  it('applies a tenant update made by another process (the CLI) to keys the gateway has cached', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    expect((await post(t.apiKey.key)).status).toBe(200); // cached with the defaults
    const cli = new TenantsService(
      env.database.db,
      env.box,
      systemClock,
      new ApiKeysService({ db: env.database.db, clock: systemClock, invalidations: new RedisApiKeyInvalidations(env.redis, env.redisPrefix, silentLogger) }),
    );
    await cli.update(t.tenant.id, { rateLimitPerSecond: 1, rateLimitBurst: 1 });
    await expectEventually(async () => expect((await post(t.apiKey.key)).status).toBe(429));
  });
});
