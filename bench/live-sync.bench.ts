/**
 * Figure 8: the live sync loop (issue 15). `merchants` open merchants with `roomsPerMerchant`
 * rooms each on the simulator (in this process, over HTTP); before each measured sync a tenth of
 * the rooms change status (forced PAUSED, later given back to the clock), so each read finds
 * changes to turn into events. Measured: the loop's rounds (claim with a lease, every getliveinfo page,
 * mirror diff, live_events, publish) until every merchant is synced, against the bare cost of the
 * same work: the same getliveinfo pages through the same WeChat client and one plain upsert per
 * room into a scratch table, no diff, no events, no tenant scope; and the floor: the same pages,
 * written nowhere. Alternating, three rounds, medians.
 * CPU is this process's (the load, the simulator and the code measured; the simulator's share is
 * the same on both sides) and Postgres's, per room synced.
 */
import { pathToFileURL } from 'node:url';
import { eq, sql } from 'drizzle-orm';
import { liveSyncState, authorizers } from '../src/db/tables.js';
import { RedisLiveEventPublisher } from '../src/events/live-event-feed.js';
import { ApiQuotaLimiter } from '../src/jobs/api-quota.js';
import { startLiveSyncLoop } from '../src/jobs/live-sync.js';
import { systemClock } from '../src/lib/clock.js';
import { silentLogger } from '../src/lib/logger.js';
import { PgCredentialStore } from '../src/services/credential-store.pg.js';
import { LiveCalls } from '../src/services/live-ops/live-calls.js';
import { LiveChangeSink } from '../src/services/live-ops/live-changes.js';
import { LiveSyncService } from '../src/services/live-ops/live-sync.service.js';
import { LIVE_INFO_PAGE_SIZE } from '../src/wechat/endpoints.js';
import type { WechatRoom } from '../src/wechat/live/live-client.js';
import { SimulatorAdmin } from '../src/wechat/simulator/admin-client.js';
import { startSimulator } from '../src/wechat/simulator/server.js';
import { createWechatApi } from '../src/wechat/wechat-api.js';
import { createTenantWithMerchants } from '../test/support/fixtures.js';
import globalSetup from '../test/support/global-setup.js';
import { createTestEnv } from '../test/support/test-env.js';
import { cpuSecondsOf } from './support/processes.js';
import { median } from './support/stats.js';

export interface LiveSyncRound {
  rooms: number;
  liveInfoCalls: number;
  events: number;
  seconds: number;
  roomsPerSec: number;
  cpuUsPerRoom: number;
  postgresCpuUsPerRoom: number;
}

/** The loop; the bare cost (same pages, one plain upsert per room); the floor (same pages, no write). */
type Round = { sync: LiveSyncRound; bare: LiveSyncRound; http: LiveSyncRound };

export interface LiveSyncFigures {
  merchants: number;
  roomsPerMerchant: number;
  rounds: Round[];
  median: Round;
}

const CONCURRENCY = 4;

export async function runLiveSyncBench(
  options: { log?: (line: string) => void; merchants?: number; roomsPerMerchant?: number; rounds?: number } = {},
): Promise<LiveSyncFigures> {
  const log = options.log ?? (() => {});
  const merchants = options.merchants ?? 20;
  const roomsPerMerchant = options.roomsPerMerchant ?? 200;
  const rounds = options.rounds ?? 3;
  await globalSetup();
  const env = await createTestEnv();
  const sim = await startSimulator({ port: 0 });
  try {
    const db = env.database.db;
    const t = await createTenantWithMerchants(db, env.box, merchants);
    await db.update(authorizers).set({ liveOpen: true }).where(eq(authorizers.tenantId, t.tenant.id));
    const admin = new SimulatorAdmin(sim.url);
    const store = new PgCredentialStore(db, env.box, systemClock);
    const { ticket } = await admin.registerComponent({
      componentAppId: t.input.componentAppId,
      componentAppSecret: t.input.componentAppSecret,
      token: t.input.token,
      encodingAesKey: t.input.encodingAesKey,
    });
    await store.saveTicket(t.tenant.id, ticket);
    const wechat = createWechatApi({ baseUrl: sim.url, redis: env.redis, prefix: env.redisPrefix, store, clock: systemClock });
    const farAhead = Math.floor(Date.now() / 1000) + 30 * 86_400;
    for (const appId of t.appIds) {
      sim.state.addAuthorizer({ componentAppId: t.input.componentAppId, appId, refreshToken: `refresh-${appId}`, funcInfo: [1, 52] });
      const app = sim.state.live.app(appId);
      for (let i = 0; i < roomsPerMerchant; i++) {
        const roomId = app.roomId();
        app.rooms.set(roomId, {
          roomId,
          name: `直播间 ${roomId}`,
          coverImg: 'media',
          shareImg: 'media',
          feedsImg: 'media',
          startTime: farAhead + i * 3600,
          endTime: farAhead + i * 3600 + 7200,
          anchorName: '主播小李',
          anchorWechat: 'anchor_li',
          subAnchorWechat: '',
          createrWechat: '',
          isFeedsPublic: 1,
          type: 0,
          screenType: 0,
          closeLike: 0,
          closeGoods: 0,
          closeComment: 0,
          closeReplay: 0,
          closeShare: 0,
          closeKf: 0,
          goodsIds: [],
          assistants: new Map(),
          forcedStatus: null,
          pushKey: 'key',
        });
      }
      await wechat.tokens.getAuthorizerToken(t.tenant.id, appId);
    }

    const quota = new ApiQuotaLimiter(env.redis, { prefix: env.redisPrefix });
    const calls = new LiveCalls({
      db: env.appDatabase.db,
      wechat: { run: (tenant, a, call) => wechat.runLive(tenant, a, call) },
      quota,
      clock: systemClock,
      logger: silentLogger,
    });
    let events = 0;
    const publisher = new RedisLiveEventPublisher(env.redis, env.redisPrefix);
    const sync = new LiveSyncService({
      db: env.appDatabase.db,
      calls,
      changes: new LiveChangeSink(silentLogger, {
        publish: async (tenantId, published) => {
          events += published.length;
          await publisher.publish(tenantId, published);
        },
      }),
      clock: systemClock,
      logger: silentLogger,
    });
    const loop = startLiveSyncLoop(sync, silentLogger, { batch: CONCURRENCY, enrollEveryMs: Number.POSITIVE_INFINITY }, false);
    await sync.enroll();
    await db.execute(
      sql`create table bench_rooms (app_id text not null, room_id integer not null, live_status integer not null, data json not null, primary key (app_id, room_id))`,
    );

    let flip = 0;
    /** A tenth of the rooms change status before each measured read. */
    const changeSome = () => {
      flip++;
      for (const appId of t.appIds) {
        for (const room of sim.state.live.app(appId).rooms.values()) {
          if (room.roomId % 10 === flip % 10) room.forcedStatus = room.forcedStatus === null ? 105 : null;
        }
      }
    };

    const measure = async (run: () => Promise<{ rooms: number; calls: number }>, change: boolean): Promise<LiveSyncRound> => {
      if (change) changeSome();
      const events0 = events;
      const cpu0 = process.cpuUsage();
      const pg0 = cpuSecondsOf('postgres');
      const t0 = performance.now();
      const done = await run();
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const pg = cpuSecondsOf('postgres') - pg0;
      return {
        rooms: done.rooms,
        liveInfoCalls: done.calls,
        events: events - events0,
        seconds: Math.round(seconds * 1000) / 1000,
        roomsPerSec: Math.round(done.rooms / seconds),
        cpuUsPerRoom: Math.round((cpu.user + cpu.system) / done.rooms),
        postgresCpuUsPerRoom: Math.round((pg * 1e6) / done.rooms),
      };
    };

    const runSync = async () => {
      await db
        .update(liveSyncState)
        .set({ nextSyncAt: new Date(Date.now() - 1000), leaseUntil: null })
        .where(eq(liveSyncState.tenantId, t.tenant.id));
      let rooms = 0;
      let n = 0;
      for (;;) {
        const outcomes = await loop.runOnce();
        if (outcomes.length === 0) break;
        for (const o of outcomes) {
          if (o.error) throw new Error(`sync of ${o.appId} failed: ${o.error.code} ${o.error.message}`);
          rooms += o.rooms;
          n += o.calls;
        }
      }
      return { rooms, calls: n };
    };

    /** The same pages through the same client, written nowhere: the floor. */
    const runHttp = () => readAll(async () => undefined);
    const runBare = () =>
      readAll(async (appId, room) => {
        await db.execute(
          sql`insert into bench_rooms (app_id, room_id, live_status, data) values (${appId}, ${room.roomId}, ${room.liveStatus}, ${JSON.stringify(room)}::json)
              on conflict (app_id, room_id) do update set live_status = excluded.live_status, data = excluded.data`,
        );
      });
    const readAll = async (write: (appId: string, room: WechatRoom) => Promise<void>) => {
      let rooms = 0;
      let n = 0;
      const queue = [...t.appIds];
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          for (let appId = queue.shift(); appId !== undefined; appId = queue.shift()) {
            for (let start = 0; ; start += LIVE_INFO_PAGE_SIZE) {
              const page = await wechat.runLive(t.tenant.id, appId, (c, token) => c.rooms(token, start, LIVE_INFO_PAGE_SIZE));
              n++;
              for (const room of page.rooms) await write(appId, room);
              rooms += page.rooms.length;
              if (page.rooms.length === 0 || start + page.rooms.length >= page.total) break;
            }
          }
        }),
      );
      return { rooms, calls: n };
    };

    // Warm up both paths (the first sync writes every room and announces each as new).
    await runSync();
    await runBare();
    await runHttp();
    const all: Round[] = [];
    for (let round = 1; round <= rounds; round++) {
      const s = await measure(runSync, true);
      const b = await measure(runBare, false);
      const h = await measure(runHttp, false);
      all.push({ sync: s, bare: b, http: h });
      log(`live sync round ${round}: sync ${JSON.stringify(s)}; bare ${JSON.stringify(b)}; http only ${JSON.stringify(h)}`);
    }
    const med = (pick: (r: Round) => LiveSyncRound): LiveSyncRound => {
      const rs = all.map(pick);
      const m = (f: (r: LiveSyncRound) => number) => median(rs.map(f));
      return {
        rooms: m((r) => r.rooms),
        liveInfoCalls: m((r) => r.liveInfoCalls),
        events: m((r) => r.events),
        seconds: m((r) => r.seconds),
        roomsPerSec: m((r) => r.roomsPerSec),
        cpuUsPerRoom: m((r) => r.cpuUsPerRoom),
        postgresCpuUsPerRoom: m((r) => r.postgresCpuUsPerRoom),
      };
    };
    await loop.close();
    return { merchants, roomsPerMerchant, rounds: all, median: { sync: med((r) => r.sync), bare: med((r) => r.bare), http: med((r) => r.http) } };
  } finally {
    await sim.stop();
    await env.cleanup();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runLiveSyncBench({
    log: (line) => process.stderr.write(`${line}\n`),
    ...(process.env.BENCH_ROUNDS ? { rounds: Number(process.env.BENCH_ROUNDS) } : {}),
    ...(process.env.BENCH_MERCHANTS ? { merchants: Number(process.env.BENCH_MERCHANTS) } : {}),
    ...(process.env.BENCH_ROOMS ? { roomsPerMerchant: Number(process.env.BENCH_ROOMS) } : {}),
  }).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result.median, null, 2)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
