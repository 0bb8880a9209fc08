/**
 * Figure 7, what the gateway hands on (issue 14), each beside its baseline in this run:
 * - relay: encrypted pushes stored/s by the gateway (ROLE=all: answered, stored, processed, and
 *   relayed verbatim by its webhook worker to a RELAY endpoint on a local receiver), against the
 *   pushes the receiver got per second until the last one; then the time from a push leaving the
 *   load generator to the receiver having it, at an even 100 pushes/s;
 * - tokens: `componentAccessToken` reads/s by one token-scoped key over GraphQL, against a bare
 *   Redis GET of the same cached token with the same concurrency; beside them, the floor: a plain
 *   node:http server (bench/servers/bare-token.server.ts, on the gateway's core) answering the
 *   same JSON from one GET, i.e. what HTTP itself costs. The per-key rate limit is lifted (as in
 *   the other benchmarks): at its default 50/s nearly every read would be a 429.
 * The gateway is a child process pinned to core 0; the load, the receiver and the Redis client
 * run here (meant for core 1). `npx tsx bench/outbound.bench.ts`; about 40 s.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { count, eq } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { webhookInbox } from '../src/db/tables.js';
import { systemClock } from '../src/lib/clock.js';
import { TenantsService } from '../src/services/tenants.service.js';
import { componentTokenKeys } from '../src/wechat/tokens/token-keys.js';
import { BENCH_REDIS_URL, createBenchDatabase, createBenchTenant, deleteRedisPrefix } from './support/bench-db.js';
import { runLoad } from './support/load.js';
import { sendPaced } from './support/paced.js';
import { type BenchProcess, pinSelf, spawnBenchProcess } from './support/processes.js';
import { median, quantile, sleep } from './support/stats.js';
import { type Prepared, prepareMany, pushFactory, pushRequest } from './webhook-ingest.bench.js';

export interface RelayRun {
  storedPerSec: number;
  stored: number;
  /** Pushes the receiver got per second, from the first push sent to the last one relayed. */
  relayedPerSec: number;
  relayed: number;
}

export interface OutboundFigures {
  relay: { runs: RelayRun[]; median: { storedPerSec: number; relayedPerSec: number } };
  relayLatency: {
    ratePerSec: number;
    pushes: number;
    relayed: number;
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
    /** Its baseline: push sent -> the gateway's answer to it (storing it), same pushes. */
    answerP50Ms: number;
    answerP99Ms: number;
  };
  tokens: {
    connections: number;
    gatewayPerSec: number[];
    /** Reads that did not answer 2xx, per round (they are not counted above). */
    gatewayFailed: number[];
    redisGetPerSec: number[];
    bareHttpPerSec: number[];
    median: { gatewayPerSec: number; redisGetPerSec: number; bareHttpPerSec: number };
  };
}

export interface OutboundBenchOptions {
  rounds?: number;
  secondsPerRun?: number;
  connections?: number;
  log?: (line: string) => void;
  /** Which parts to run (default both; OUTBOUND_PARTS=relay or tokens when run directly). */
  parts?: readonly ('relay' | 'tokens')[];
}

const TOKEN_QUERY = JSON.stringify({ query: '{ componentAccessToken { token expiresAt } }' });

export async function runOutboundBench(options: OutboundBenchOptions = {}): Promise<OutboundFigures> {
  const log = options.log ?? (() => {});
  const rounds = options.rounds ?? 3;
  const seconds = options.secondsPerRun ?? 4;
  const connections = options.connections ?? 20;
  const parts = new Set(options.parts ?? ['relay', 'tokens']);
  const bench = await createBenchDatabase();
  const redisPrefix = `bench-${randomBytes(4).toString('hex')}`;
  const arrivals = new Map<string, number>();
  let lastArrival = 0;
  const receiver: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const nonce = new URL(req.url ?? '/', 'http://x').searchParams.get('nonce') ?? '';
      if (!arrivals.has(nonce)) arrivals.set(nonce, performance.now());
      lastArrival = performance.now();
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const redis = new Redis(BENCH_REDIS_URL);
  let gateway: BenchProcess | undefined;
  let bareHttp: BenchProcess | undefined;
  try {
    const tenant = await createBenchTenant(bench, 0);
    const tenants = new TenantsService(bench.database.db, bench.box, systemClock);
    const adminKey = (await tenants.createApiKey(tenant.id, ['admin', 'token'])).key;
    gateway = await spawnBenchProcess('bench/servers/gateway.server.ts', {
      env: {
        DATABASE_URL: bench.url,
        DB_POOL_SIZE: '10',
        REDIS_URL: BENCH_REDIS_URL,
        REDIS_PREFIX: redisPrefix,
        SECRET_KEY: bench.secretKey.toString('base64'),
        ROLE: 'all',
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        METRICS_PORT: '0',
        WEBHOOK_ALLOW_HTTP: 'true',
        WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true',
        RATE_LIMIT_PER_SECOND: '100000',
        RATE_LIMIT_BURST: '1000000',
        BENCH_TENANT_ID: tenant.id,
      },
      cores: '0',
      // OUTBOUND_PROFILE=dir: the gateway writes a V8 CPU profile there when it stops.
      ...(process.env.OUTBOUND_PROFILE ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${process.env.OUTBOUND_PROFILE}`] } : {}),
    });
    const url = String(gateway.ready.url);
    const gql = async (key: string, body: string) => {
      const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
      return (await res.json()) as { data?: unknown; errors?: unknown };
    };
    const created = await gql(
      adminKey,
      JSON.stringify({
        query: 'mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } userErrors { message } } }',
        variables: { input: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/wechat`, kind: 'RELAY' } },
      }),
    );
    if (created.errors) throw new Error(`createWebhookEndpoint: ${JSON.stringify(created.errors)}`);

    const prepare = pushFactory(tenant);
    const nonceOf = (p: Prepared) => new URL(p.path, 'http://x').searchParams.get('nonce') ?? '';
    const stored = async () => {
      const [row] = await bench.database.db.select({ n: count() }).from(webhookInbox).where(eq(webhookInbox.tenantId, tenant.id));
      return row?.n ?? 0;
    };
    const relayRun = async (secs: number, n: number): Promise<RelayRun> => {
      const pushes = prepareMany(prepare, n);
      const nonces = new Set(pushes.map(nonceOf));
      const before = await stored();
      const t0 = performance.now();
      const result = await runLoad({ url, connections, seconds: secs, maxRequests: pushes.length - connections, requests: [pushRequest(pushes)] });
      const storedNow = (await stored()) - before;
      const relayedOf = () => [...nonces].filter((x) => arrivals.has(x)).length;
      const deadline = performance.now() + 60_000;
      while (relayedOf() < storedNow && performance.now() < deadline) await sleep(50);
      const relayed = relayedOf();
      return {
        stored: storedNow,
        storedPerSec: Math.round(storedNow / result.seconds),
        relayed,
        relayedPerSec: Math.round(relayed / Math.max(0.001, (lastArrival - t0) / 1000)),
      };
    };

    const runs: RelayRun[] = [];
    if (parts.has('relay')) await relayRun(1, 1_000); // warm-up: JIT, pools, scripts
    for (let round = 1; round <= (parts.has('relay') ? rounds : 0); round++) {
      const r = await relayRun(seconds, 20_000);
      runs.push(r);
      log(`outbound relay round ${round}: ${r.storedPerSec} stored/s, ${r.relayedPerSec} relayed/s (${r.relayed}/${r.stored})`);
    }

    let relayLatency: OutboundFigures['relayLatency'] = {
      ratePerSec: 100,
      pushes: 0,
      relayed: 0,
      p50Ms: 0,
      p99Ms: 0,
      maxMs: 0,
      answerP50Ms: 0,
      answerP99Ms: 0,
    };
    if (parts.has('relay')) {
      // At an even 100/s: push sent -> the receiver has it.
      const latencyPushes = prepareMany(prepare, 401);
      const sentAt = new Map<string, number>();
      const answers: number[] = [];
      let next = 0;
      const paced = await sendPaced({
        url,
        rate: 100,
        seconds: 4,
        connections,
        next: () => {
          const p = latencyPushes[next++ % latencyPushes.length] as Prepared;
          sentAt.set(nonceOf(p), performance.now());
          return { method: 'POST', path: p.path, headers: { 'content-type': 'text/xml' }, body: p.body };
        },
        onAnswered: (r) => answers.push(performance.now() - (sentAt.get(new URL(r.path, 'http://x').searchParams.get('nonce') ?? '') ?? 0)),
      });
      const latencyOf = () => [...sentAt].flatMap(([nonce, at]) => (arrivals.has(nonce) ? [(arrivals.get(nonce) as number) - at] : []));
      const waitUntil = performance.now() + 10_000;
      while (latencyOf().length < paced.ok && performance.now() < waitUntil) await sleep(50);
      const latencies = latencyOf();
      relayLatency = {
        ratePerSec: 100,
        pushes: paced.ok,
        relayed: latencies.length,
        p50Ms: round1(quantile(latencies, 0.5)),
        p99Ms: round1(quantile(latencies, 0.99)),
        maxMs: round1(Math.max(0, ...latencies)),
        answerP50Ms: round1(quantile(answers, 0.5)),
        answerP99Ms: round1(quantile(answers, 0.99)),
      };
      log(`outbound relay latency at 100/s: ${JSON.stringify(relayLatency)}`);
    }

    // Tokens: the cached component token, as the token manager stores it, read by one key.
    const keys = componentTokenKeys(redisPrefix, tenant.id, tenant.input.componentAppId);
    const now = Date.now();
    await redis.set(
      keys.token,
      JSON.stringify({ t: `bench-token-${randomBytes(8).toString('hex')}`, e: now + 7_200_000, r: now + 6_900_000 }),
      'PX',
      7_200_000,
    );
    const check = await gql(adminKey, TOKEN_QUERY);
    if (check.errors) throw new Error(`componentAccessToken: ${JSON.stringify(check.errors)}`);
    bareHttp = await spawnBenchProcess('bench/servers/bare-token.server.ts', { env: { REDIS_URL: BENCH_REDIS_URL, BENCH_TOKEN_KEY: keys.token }, cores: '0' });
    const bareUrl = String(bareHttp.ready.url);
    const tokenRun = (target = url) =>
      runLoad({
        url: target,
        connections,
        seconds,
        maxRequests: 1_000_000,
        requests: [
          { method: 'POST', path: '/graphql', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }, body: TOKEN_QUERY },
        ],
      });
    const redisRun = async () => {
      let ops = 0;
      const end = performance.now() + seconds * 1000;
      await Promise.all(
        Array.from({ length: connections }, async () => {
          while (performance.now() < end) {
            await redis.get(keys.token);
            ops++;
          }
        }),
      );
      return Math.round(ops / seconds);
    };
    const tokenRounds = parts.has('tokens') ? rounds : 0;
    if (tokenRounds > 0) await tokenRun(); // warm-up
    if (tokenRounds > 0) await tokenRun(bareUrl);
    const gatewayPerSec: number[] = [];
    const gatewayFailed: number[] = [];
    const redisGetPerSec: number[] = [];
    const bareHttpPerSec: number[] = [];
    for (let round = 1; round <= tokenRounds; round++) {
      const g = await tokenRun();
      gatewayPerSec.push(g.okPerSec);
      gatewayFailed.push(g.failed);
      redisGetPerSec.push(await redisRun());
      bareHttpPerSec.push((await tokenRun(bareUrl)).okPerSec);
      log(
        `outbound tokens round ${round}: ${gatewayPerSec.at(-1)} reads/s (${g.failed} failed), bare GET ${redisGetPerSec.at(-1)}/s, bare node:http + GET ${bareHttpPerSec.at(-1)}/s`,
      );
    }
    return {
      relay: { runs, median: { storedPerSec: median(runs.map((r) => r.storedPerSec)), relayedPerSec: median(runs.map((r) => r.relayedPerSec)) } },
      relayLatency,
      tokens: {
        connections,
        gatewayPerSec,
        gatewayFailed,
        redisGetPerSec,
        bareHttpPerSec,
        median: { gatewayPerSec: median(gatewayPerSec), redisGetPerSec: median(redisGetPerSec), bareHttpPerSec: median(bareHttpPerSec) },
      },
    };
  } finally {
    await gateway?.stop();
    await bareHttp?.stop();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    redis.disconnect();
    await deleteRedisPrefix(redisPrefix);
    await bench.drop();
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  pinSelf('1');
  const only = process.env.OUTBOUND_PARTS;
  const figures = await runOutboundBench({
    log: (line) => console.error(line),
    ...(only ? { parts: only.split(',').filter((p): p is 'relay' | 'tokens' => p === 'relay' || p === 'tokens') } : {}),
  });
  console.log(JSON.stringify(figures, null, 2));
}
