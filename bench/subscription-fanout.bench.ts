/**
 * Figure 4, subscription fan-out: `subscribers` graphql-ws subscriptions on one gateway (ROLE=api,
 * pinned to core 0) held by a client process of their own (core 1); one change published to
 * Redis as a worker would; the time until every subscriber has it, and the gateway's resident
 * memory per subscriber once idle (RSS after connecting minus RSS before, divided by the count).
 * Then a gap: the subscription connection cut (CLIENT KILL TYPE pubsub) after a change was
 * committed but not published live, replayed from the stream and, with the stream lost, from
 * Postgres. Figure 5 rides along: the gateway's RSS idle after start-up with ROLE=all.
 * `npx tsx bench/subscription-fanout.bench.ts`; about 40 s.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { changeFeedKeys, RedisChangePublisher } from '../src/events/change-feed.js';
import type { LiveApplicationView } from '../src/services/live-application/index.js';
import { BENCH_REDIS_URL, type BenchDatabase, createBenchDatabase, createBenchTenant, deleteRedisPrefix } from './support/bench-db.js';
import { type BenchProcess, pinSelf, spawnBenchProcess } from './support/processes.js';
import { sleep } from './support/stats.js';

export interface FanoutFigures {
  subscribers: number;
  connected: number;
  connectSeconds: number;
  /** Publish to the last subscriber's arrival, ms. */
  deliveredAllMs: number | null;
  /** Publish to the first arrival, ms. */
  firstMs: number | null;
  received: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  bytesPerSubscriber: number;
  /** Open-file limit of the processes (10,000 sockets each need one). */
  fileLimit: number;
  /**
   * A change the subscribers missed while the gateway's subscription connection was down,
   * replayed when it is back: ms from the connection's loss (CLIENT KILL) to the last
   * subscriber's arrival, with the change kept in the Redis stream (the usual gap), and with the
   * stream lost (Redis restarted empty: read from Postgres, one read shared by all).
   */
  gapFromStreamMs: number | null;
  gapFromPostgresMs: number | null;
}

export interface IdleRssFigure {
  role: 'all';
  rssBytes: number;
  /** How long after ready it was read. */
  afterMs: number;
}

export interface FanoutOptions {
  subscribers?: number;
  serverCores?: string;
  clientCores?: string;
  log?: (line: string) => void;
}

const SUBSCRIPTION =
  'subscription { liveApplicationUpdated { id appId status errcode errmsg errorCode attempts createdAt submittedAt openedAt updatedAt cursor } }';

export async function runFanoutBench(options: FanoutOptions = {}): Promise<FanoutFigures> {
  const log = options.log ?? (() => {});
  const subscribers = options.subscribers ?? 10_000;
  const fileLimit = openFileLimit();
  if (fileLimit < subscribers + 1000) throw new Error(`the open-file limit is ${fileLimit}; ${subscribers} subscribers need ${subscribers + 1000} (ulimit -n)`);
  const bench = await createBenchDatabase(4);
  const running: BenchProcess[] = [];
  const redis = new Redis(BENCH_REDIS_URL);
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  try {
    const tenant = await createBenchTenant(bench, 0);
    const gateway = await spawnBenchProcess('bench/servers/gateway.server.ts', { env: gatewayEnv(bench, prefix, 'api'), cores: options.serverCores ?? '0' });
    running.push(gateway);
    const events: Record<string, unknown>[] = [];
    let onEvent: () => void = () => {};
    const clients = await spawnBenchProcess('bench/servers/fanout-clients.ts', {
      env: {},
      cores: options.clientCores ?? '1',
      onEvent: (e) => {
        events.push(e);
        onEvent();
      },
    });
    running.push(clients);
    const nextEvent = (timeoutMs: number) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const seen = events.length;
        const timer = setTimeout(() => reject(new Error('the client process did not answer in time')), timeoutMs);
        onEvent = () => {
          if (events.length > seen) {
            clearTimeout(timer);
            resolve(events[seen] as Record<string, unknown>);
          }
        };
      });

    await sleep(1500);
    const rssBeforeBytes = gateway.rssBytes();
    clients.send({
      connect: {
        url: `${String(gateway.ready.url).replace('http:', 'ws:')}/graphql`,
        apiKey: tenant.apiKey,
        query: SUBSCRIPTION,
        count: subscribers,
        parallel: 200,
      },
    });
    const connected = await nextEvent(120_000);
    log(`fan-out: ${JSON.stringify(connected)}`);
    // Idle: let the handshakes' garbage go and every subscription start listening.
    await sleep(3000);
    const rssAfterBytes = gateway.rssBytes();

    const publisher = new RedisChangePublisher(redis, prefix);
    const at = new Date().toISOString();
    const change: LiveApplicationView = {
      id: randomUUID(),
      tenantId: tenant.id,
      appId: 'wx00000000000000f0',
      status: 'OPENED',
      errcode: 0,
      errmsg: 'ok',
      errorCode: null,
      attempts: 1,
      idempotencyKey: null,
      createdAt: at,
      submittedAt: at,
      openedAt: at,
      expiresAt: null,
      updatedAt: at,
    };
    const publishedAt = performance.timeOrigin + performance.now();
    await publisher.publish([{ outboxId: 1, application: change }]);
    // Wait for the deliveries (bounded), then ask for the arrival times.
    let report: Record<string, unknown> = {};
    for (let waited = 0; waited < 10_000; waited += 250) {
      await sleep(250);
      clients.send({ report: true });
      report = await nextEvent(10_000);
      if (Number(report.received) >= Number(connected.connected)) break;
    }
    const last = report.last === null ? null : Number(report.last);
    const first = report.first === null ? null : Number(report.first);
    const figures: FanoutFigures = {
      subscribers,
      connected: Number(connected.connected),
      connectSeconds: Math.round(Number(connected.seconds) * 10) / 10,
      deliveredAllMs: last === null || Number(report.received) < subscribers ? null : Math.round(last - publishedAt),
      firstMs: first === null ? null : Math.round(first - publishedAt),
      received: Number(report.received),
      rssBeforeBytes,
      rssAfterBytes,
      bytesPerSubscriber: Math.round((rssAfterBytes - rssBeforeBytes) / Math.max(1, Number(connected.connected))),
      fileLimit,
      gapFromStreamMs: null,
      gapFromPostgresMs: null,
    };
    // Gaps: the change is committed (its row in Postgres) but never published live; the
    // subscription connection is then cut, and the subscribers get it from the gap's replay.
    const stream = changeFeedKeys(prefix);
    const gap = async (from: 'postgres' | 'stream'): Promise<number | null> => {
      const sql = bench.database.sql as NonNullable<typeof bench.database.sql>;
      const appId = `wx${randomBytes(8).toString('hex')}`;
      const [row] = await sql`
        insert into live_applications (tenant_id, app_id, status, attempts, created_at, updated_at)
        values (${tenant.id}, ${appId}, 'QUEUED', 0, now(), now())
        returning id`;
      const application: LiveApplicationView = { ...change, id: String(row?.id), appId, status: 'QUEUED', updatedAt: new Date().toISOString() };
      if (from === 'stream') await redis.xadd(stream.stream(tenant.id), '*', 'a', JSON.stringify(application));
      else await redis.del(stream.stream(tenant.id), stream.origin(tenant.id));
      clients.send({ mark: true });
      await nextEvent(10_000);
      const cutAt = performance.timeOrigin + performance.now();
      await redis.client('KILL', 'TYPE', 'pubsub');
      let gapReport: Record<string, unknown> = {};
      for (let waited = 0; waited < 30_000; waited += 250) {
        await sleep(250);
        clients.send({ report: true });
        gapReport = await nextEvent(10_000);
        if (Number(gapReport.received) >= figures.connected) break;
      }
      log(`fan-out gap from ${from}: ${JSON.stringify(gapReport)}`);
      return Number(gapReport.received) < figures.connected || gapReport.last === null ? null : Math.round(Number(gapReport.last) - cutAt);
    };
    // From Postgres first: it reads the applications changed since the subscribers' cursor, the
    // one row here (the stream case's row would be a second).
    figures.gapFromPostgresMs = await gap('postgres');
    await sleep(1000);
    figures.gapFromStreamMs = await gap('stream');
    log(`fan-out: ${JSON.stringify(figures)}`);
    return figures;
  } finally {
    await Promise.all(running.map((p) => p.stop()));
    await deleteRedisPrefix(prefix);
    redis.disconnect();
    await bench.drop();
  }
}

/** The gateway with ROLE=all (API, worker, reconciler) idle after start-up: its resident memory. */
export async function runIdleRssBench(options: { settleMs?: number; cores?: string } = {}): Promise<IdleRssFigure> {
  const bench = await createBenchDatabase(10);
  const redis = new Redis(BENCH_REDIS_URL);
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  let gateway: BenchProcess | undefined;
  try {
    gateway = await spawnBenchProcess('bench/servers/gateway.server.ts', { env: gatewayEnv(bench, prefix, 'all'), cores: options.cores ?? '0' });
    const afterMs = options.settleMs ?? 3000;
    await sleep(afterMs);
    return { role: 'all', rssBytes: gateway.rssBytes(), afterMs };
  } finally {
    await gateway?.stop();
    await deleteRedisPrefix(prefix);
    redis.disconnect();
    await bench.drop();
  }
}

function gatewayEnv(bench: BenchDatabase, prefix: string, role: 'api' | 'all'): Record<string, string> {
  return {
    DATABASE_URL: bench.url,
    REDIS_URL: BENCH_REDIS_URL,
    REDIS_PREFIX: prefix,
    SECRET_KEY: bench.secretKey.toString('base64'),
    // The load comes from one key: these figures measure the gateway, not the per-key rate limit.
    RATE_LIMIT_PER_SECOND: '100000',
    RATE_LIMIT_BURST: '1000000',
    ROLE: role,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    // Nothing calls WeChat here; were anything to, it stays on this machine.
    WECHAT_API_BASE: 'http://127.0.0.1:9',
  };
}

/** The soft open-file limit children inherit (`ulimit -n`). */
function openFileLimit(): number {
  try {
    return Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim()) || 0;
  } catch {
    return 0;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  pinSelf('1');
  const log = (line: string) => console.error(line);
  const fanout = await runFanoutBench({ log, ...(process.env.BENCH_SUBSCRIBERS ? { subscribers: Number(process.env.BENCH_SUBSCRIBERS) } : {}) });
  const idle = await runIdleRssBench();
  console.log(JSON.stringify({ fanout, idle }, null, 2));
}
