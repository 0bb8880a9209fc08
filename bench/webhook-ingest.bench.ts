/**
 * Webhook ingest: verified-and-stored pushes per second over HTTP, beside (a) the crypto-plus-
 * parse cost alone, in-process, and (b) a plain node:http server doing the same INSERT through the
 * same pool, all in one run on one machine. Needs Postgres and Redis (a scratch database is created
 * and dropped). `npx tsx bench/webhook-ingest.bench.ts`; about 40 s.
 *
 * The load generator (autocannon) runs in this process, beside the servers: every HTTP figure
 * carries the same handicap, so they compare with each other, not with other machines.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { and, count, eq, isNotNull } from 'drizzle-orm';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { createServices } from '../src/app/services.js';
import { connectPostgres, type Database } from '../src/db/client.js';
import { webhookInbox } from '../src/db/tables.js';
import { RedisChangePublisher } from '../src/events/change-feed.js';
import { createRouter, readBody } from '../src/http/router.js';
import { systemClock } from '../src/lib/clock.js';
import { silentLogger } from '../src/lib/logger.js';
import { SecretBox } from '../src/lib/secret-box.js';
import type { ApplicationQueue } from '../src/services/ports.js';
import { TenantsService } from '../src/services/tenants.service.js';
import { MsgCrypt, plainSignature } from '../src/webhooks/crypto/msg-crypt.js';
import { InboxStore } from '../src/webhooks/inbox.store.js';
import { pushIdentity, readQuery, verifyPush } from '../src/webhooks/push-verifier.js';
import { createWebhooks } from '../src/webhooks/webhooks.module.js';
import { buildEnvelope, buildLiveApplyEventXml } from '../src/webhooks/xml/events.js';

// autocannon ships no types; the part used here, typed narrowly.
interface CannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (request: CannonRequest) => CannonRequest;
}
interface CannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  latency: { p50: number; p99: number };
}
type Autocannon = (options: { url: string; connections: number; amount: number; requests: CannonRequest[] }) => PromiseLike<CannonResult> & { stop(): void };
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export interface HttpFigure {
  /** Rows stored per second of the run. */
  storedPerSec: number;
  stored: number;
  ok: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
}

/** Each HTTP figure is the median of `rounds` runs, interleaved so a noisy neighbour hits all alike. */
export interface WebhookIngestFigures {
  connections: number;
  secondsPerRun: number;
  rounds: number;
  /** (a) verify + decrypt + parse + identity of one push, one core, no I/O. */
  cryptoParseOpsPerSec: number;
  /** (b) plain node:http: read the body, the same INSERT through the same pool, answer. */
  plainInsert: HttpFigure;
  /** The webhook route, pushes of a type without effects: verify, replay mark, INSERT, answer. */
  webhookStoreOnly: HttpFigure;
  /** The webhook route with wxa_live_apply_event: the same, plus opening an application after each answer. */
  webhookLiveEvents: HttpFigure;
  /** Live events processed (application opened) while they were arriving, over all rounds. */
  liveEventsProcessedDuringRuns: number;
}

export interface BenchOptions {
  /** A Postgres server URL; the bench creates and drops its own database there. */
  postgresUrl?: string;
  redisUrl?: string;
  connections?: number;
  secondsPerRun?: number;
  rounds?: number;
  log?: (line: string) => void;
}

const noQueue: ApplicationQueue = { enqueue: async () => {}, remove: async () => false, scheduleExpiry: async () => {} };

interface Prepared {
  path: string;
  body: string;
}

export async function runWebhookIngestBench(options: BenchOptions = {}): Promise<WebhookIngestFigures> {
  const log = options.log ?? (() => {});
  const connections = options.connections ?? 20;
  const seconds = options.secondsPerRun ?? 3;
  const rounds = options.rounds ?? 3;
  const serverUrl = options.postgresUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `wxlive_bench_${Date.now()}_${randomBytes(3).toString('hex')}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const database = connectPostgres(url.toString(), { max: 10 });
  const redis = new Redis(options.redisUrl ?? 'redis://127.0.0.1:6379');
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  const servers: Server[] = [];
  try {
    await database.migrate();
    const box = new SecretBox(randomBytes(32));
    const keys = { token: `token${randomBytes(6).toString('hex')}`, encodingAesKey: randomBytes(32).toString('base64').slice(0, 43) };
    const componentAppId = `wx${randomBytes(8).toString('hex')}`;
    const { tenant } = await new TenantsService(database.db, box).create({ name: 'bench', componentAppId, componentAppSecret: 'secret', ...keys });
    const crypt = new MsgCrypt({ ...keys, appId: componentAppId });
    let serial = 0;
    const prepare = (kind: 'live' | 'other'): Prepared => {
      serial++;
      const createTime = String(Math.floor(Date.now() / 1000));
      const appid = `wx${serial.toString(16).padStart(16, '0')}`;
      // Unique per push: FromUserName and appid carry the serial, the nonce is fresh.
      const xml =
        kind === 'live'
          ? buildLiveApplyEventXml({ toUserName: 'gh_bench', fromUserName: `o_bench_${serial}`, createTime, appid, openTime: createTime })
          : `<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[o_bench_${serial}]]></FromUserName><CreateTime>${createTime}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[weapp_audit_success]]></Event></xml>`;
      const timestamp = createTime;
      const nonce = `${serial}${randomBytes(4).readUInt32BE()}`;
      const { encrypt, msgSignature } = crypt.encryptAndSign(xml, timestamp, nonce);
      const query = new URLSearchParams({
        signature: plainSignature(keys.token, timestamp, nonce),
        timestamp,
        nonce,
        encrypt_type: 'aes',
        msg_signature: msgSignature,
      });
      return { path: `/webhooks/wechat/${tenant.id}/events/${appid}?${query.toString()}`, body: buildEnvelope({ encrypt, toUserName: 'gh_bench' }) };
    };

    // (a) crypto + parse, in-process.
    const sample = Array.from({ length: 2000 }, () => prepare('live'));
    const verifyOptions = { acceptPlaintext: false, isFresh: () => true };
    let ops = 0;
    const started = performance.now();
    while (performance.now() - started < 2000) {
      const p = sample[ops % sample.length] as Prepared;
      const verified = verifyPush(crypt, readQuery(new URL(p.path, 'http://x').searchParams), p.body, verifyOptions);
      pushIdentity(verified.push, verified.plaintext, undefined);
      ops++;
    }
    const cryptoParseOpsPerSec = Math.round(ops / ((performance.now() - started) / 1000));
    log(`crypto+parse: ${cryptoParseOpsPerSec} ops/s`);

    // (b) plain node:http with the same INSERT through the same pool.
    const inbox = new InboxStore(database.db);
    let plainSerial = 0;
    const plain = await listen(servers, async (req, res) => {
      const body = (await readBody(req, 1024 * 1024)).toString('utf8');
      plainSerial++;
      await inbox.insert(
        { tenantId: tenant.id, kind: 'event', appId: null, eventType: 'plain', dedupKey: `plain:${plainSerial}`, payload: body, receivedAt: new Date() },
        'processed',
      );
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 7 }).end('success');
    });
    const poolSize = Math.min(40_000, Math.ceil(cryptoParseOpsPerSec * seconds * 0.4));
    // The plain server keys rows by its own counter, so it may reuse bodies.
    const plainPool = Array.from({ length: poolSize }, (_, i) => sample[i % sample.length] as Prepared);

    const webhooks = createWebhooks({
      db: database.db,
      redis,
      redisPrefix: prefix,
      services: createServices({
        db: database.db,
        box,
        clock: systemClock,
        logger: silentLogger,
        queue: noQueue,
        publisher: new RedisChangePublisher(redis, prefix),
      }),
      exchangeAuthorizationCode: async () => {
        throw new Error('not in this bench');
      },
      clock: systemClock,
      logger: silentLogger,
    });
    const routed = await listen(servers, createRouter(webhooks.routes, silentLogger));
    const runs: Record<'plain' | 'other' | 'live', HttpFigure[]> = { plain: [], other: [], live: [] };
    let liveEventsProcessedDuringRuns = 0;
    // Warm-up (JIT, pool connections, Redis script load), not counted.
    await load(plain, connections, 1, plainPool.slice(0, 3000), () => storedCount(database, 'plain'));
    await load(
      routed,
      connections,
      1,
      Array.from({ length: 3000 }, () => prepare('other')),
      () => storedCount(database, 'weapp_audit_success'),
    );
    for (let round = 1; round <= rounds; round++) {
      const plainFigure = await load(plain, connections, seconds, plainPool, () => storedCount(database, 'plain'));
      runs.plain.push(plainFigure);
      log(`round ${round} plain insert: ${JSON.stringify(plainFigure)}`);
      for (const kind of ['other', 'live'] as const) {
        // Precomputed before the load starts; timestamps stay well inside the replay window.
        const pool = Array.from({ length: poolSize }, () => prepare(kind));
        const eventType = kind === 'live' ? 'wxa_live_apply_event' : 'weapp_audit_success';
        const figure = await load(routed, connections, seconds, pool, () => storedCount(database, eventType));
        runs[kind].push(figure);
        log(`round ${round} webhook ${eventType}: ${JSON.stringify(figure)}`);
      }
      liveEventsProcessedDuringRuns = await processedCount(database, 'wxa_live_apply_event');
      // The burst's processing backlog is left to the sweeper, as at a shutdown, so it does not
      // weigh on the next round.
      await webhooks.stop();
    }
    return {
      connections,
      secondsPerRun: seconds,
      rounds,
      cryptoParseOpsPerSec,
      plainInsert: median(runs.plain),
      webhookStoreOnly: median(runs.other),
      webhookLiveEvents: median(runs.live),
      liveEventsProcessedDuringRuns,
    };
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    let cursor = '0';
    do {
      const [nextCursor, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = nextCursor;
      if (found.length > 0) await redis.del(...found);
    } while (cursor !== '0');
    redis.disconnect();
    await database.close();
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
}

async function listen(servers: Server[], handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<string> {
  const server = createServer((req, res) => {
    handler(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * Sends each prepared push once (`amount`), stopped after `seconds`: a body is never reused, so
 * every 200 is a push stored, not a replay. The rate is rows stored over the run's duration.
 */
async function load(url: string, connections: number, seconds: number, pool: Prepared[], stored: () => Promise<number>): Promise<HttpFigure> {
  const before = await stored();
  let next = 0;
  const instance = autocannon({
    url,
    connections,
    amount: pool.length - connections,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'text/xml' },
        setupRequest: (request) => {
          const p = pool[next++ % pool.length] as Prepared;
          return { ...request, path: p.path, body: p.body };
        },
      },
    ],
  });
  const timer = setTimeout(() => instance.stop(), seconds * 1000);
  const result = await instance;
  clearTimeout(timer);
  const rows = (await stored()) - before;
  return {
    storedPerSec: Math.round(rows / result.duration),
    stored: rows,
    ok: result['2xx'],
    failed: result.non2xx + result.errors + result.timeouts,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
  };
}

function median(figures: HttpFigure[]): HttpFigure {
  const sorted = [...figures].sort((x, y) => x.storedPerSec - y.storedPerSec);
  return sorted[Math.floor(sorted.length / 2)] as HttpFigure;
}

async function storedCount(database: Database, eventType: string): Promise<number> {
  const [row] = await database.db.select({ n: count() }).from(webhookInbox).where(eq(webhookInbox.eventType, eventType));
  return row?.n ?? 0;
}

async function processedCount(database: Database, eventType: string): Promise<number> {
  const [row] = await database.db
    .select({ n: count() })
    .from(webhookInbox)
    .where(and(eq(webhookInbox.eventType, eventType), isNotNull(webhookInbox.processedAt)));
  return row?.n ?? 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await runWebhookIngestBench({
    ...(process.env.BENCH_POSTGRES_URL === undefined ? {} : { postgresUrl: process.env.BENCH_POSTGRES_URL }),
    ...(process.env.REDIS_URL === undefined ? {} : { redisUrl: process.env.REDIS_URL }),
    log: (line) => console.error(line),
  });
  console.log(JSON.stringify(figures, null, 2));
}
