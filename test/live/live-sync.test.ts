import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizers, liveEvents, liveSyncState } from '../../src/db/tables.js';
import { inTenant } from '../../src/db/tenant-scope.js';
import { ApiQuotaLimiter } from '../../src/jobs/api-quota.js';
import { startLiveSyncLoop } from '../../src/jobs/live-sync.js';
import { ManualClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { nextQuotaDayStart } from '../../src/lib/quota-day.js';
import { systemContext } from '../../src/services/context.js';
import { LiveCalls } from '../../src/services/live-ops/live-calls.js';
import { LiveChangeSink } from '../../src/services/live-ops/live-changes.js';
import { type LiveEventView, mirrorGoods } from '../../src/services/live-ops/live-mirror.js';
import { LIVE_SYNC_PACE, LiveSyncService } from '../../src/services/live-ops/live-sync.service.js';
import type { LiveQuotaGroup } from '../../src/wechat/endpoints.js';
import type { RoomFields } from '../../src/wechat/live/live-client.js';
import { SimulatorAdmin } from '../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../src/wechat/simulator/server.js';
import { createWechatApi, type WechatApi } from '../../src/wechat/wechat-api.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { createAuthorizer, createTenant, credentialStore, type TenantFixture } from '../wechat/support/fixtures.js';

// The sync loop against the simulator over HTTP: rooms moving on the simulator's clock (shared
// with the gateway's), the mirror and events in Postgres, the lease in live_sync_state.

const T0 = Date.UTC(2026, 2, 10, 2, 0, 0);
let env: TestEnv;
let sim: RunningSimulator;
let admin: SimulatorAdmin;
let wechat: WechatApi;
let tenant: TenantFixture;
const clock = new ManualClock(T0);

beforeAll(async () => {
  env = await createTestEnv();
  sim = await startSimulator({ clock, tokenTtlSeconds: 30 * 86_400 });
  admin = new SimulatorAdmin(sim.url);
  wechat = createWechatApi({ baseUrl: sim.url, redis: env.redis, prefix: env.redisPrefix, store: credentialStore(env), clock });
  tenant = await createTenant(admin, env);
});

afterAll(async () => {
  await sim.stop();
  await env.cleanup();
});

async function openMerchant(t: TenantFixture = tenant): Promise<string> {
  const appId = await createAuthorizer(admin, env, t);
  await env.database.db.update(authorizers).set({ liveOpen: true }).where(eq(authorizers.appId, appId));
  return appId;
}

function syncer(limits: Partial<Record<LiveQuotaGroup, number>> = {}) {
  const quota = new ApiQuotaLimiter(env.redis, { prefix: `${env.redisPrefix}:${Math.random()}`, limits });
  const calls = new LiveCalls({ db: env.appDatabase.db, wechat: { run: (t, a, call) => wechat.runLive(t, a, call) }, quota, clock, logger: silentLogger });
  const published: LiveEventView[] = [];
  const enqueued: string[] = [];
  const sync = new LiveSyncService({
    db: env.appDatabase.db,
    calls,
    changes: new LiveChangeSink(
      silentLogger,
      { publish: async (_t, events) => void published.push(...events) },
      { enqueue: async (d) => void enqueued.push(...d.map((x) => x.deliveryId)) },
    ),
    clock,
    logger: silentLogger,
  });
  const loop = startLiveSyncLoop(sync, silentLogger, { batch: 50 }, false);
  return { sync, calls, loop, published, enqueued };
}

async function createRoom(calls: LiveCalls, appId: string, startInS: number, lengthS: number): Promise<number> {
  const ctx = systemContext(tenant.tenantId);
  const upload = await calls.call(ctx, appId, { endpoint: 'media_upload', operation: 'test', request: {} }, (c, token) =>
    c.uploadImage(token, { filename: 'cover.png', contentType: 'image/png', bytes: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]) }),
  );
  if (!upload.ok) throw new Error(upload.error.message);
  const start = Math.floor(clock.now() / 1000) + startInS;
  const fields: RoomFields = {
    name: '春季新品直播',
    coverImg: upload.value.mediaId,
    shareImg: upload.value.mediaId,
    feedsImg: upload.value.mediaId,
    startTime: start,
    endTime: start + lengthS,
    anchorName: '主播小李',
    anchorWechat: 'anchor_li',
    isFeedsPublic: 1,
    type: 0,
    screenType: 0,
    closeLike: 0,
    closeGoods: 0,
    closeComment: 0,
    closeReplay: 0,
    closeShare: 0,
    closeKf: 0,
  };
  const created = await calls.call(ctx, appId, { endpoint: 'room_create', operation: 'test', request: {} }, (c, t) => c.createRoom(t, fields));
  if (!created.ok) throw new Error(created.error.message);
  return created.value.roomId;
}

async function stateOf(appId: string) {
  const [row] = await env.database.db.select().from(liveSyncState).where(eq(liveSyncState.appId, appId));
  return row;
}

const statusesOf = (events: readonly LiveEventView[], appId: string) =>
  events.filter((e) => e.appId === appId && e.type === 'live_room.updated').map((e) => [e.data.previousStatus, e.data.status]);

describe('live sync loop', () => {
  it('follows a room NOT_STARTED -> LIVE -> ENDED on the simulator clock, often near its start and end, rarely otherwise', async () => {
    const { calls, loop, published, enqueued } = syncer();
    const appId = await openMerchant();
    await createRoom(calls, appId, 3600, 1800);
    const before = (await admin.counters()).calls.live_info?.byAppId[appId] ?? 0;

    await loop.runOnce();
    expect(statusesOf(published, appId)).toEqual([[null, 'NOT_STARTED']]);
    // An hour before its start: the next read in 10 minutes, not 30 seconds.
    expect((await stateOf(appId))?.nextSyncAt.getTime()).toBe(clock.now() + LIVE_SYNC_PACE.rareMs);
    expect(await stateOf(appId)).toMatchObject({ leaseUntil: null, lastCalls: 1, lastError: null });

    // Not due yet: nothing is read.
    clock.advance(60_000);
    await loop.runOnce();
    expect((await admin.counters()).calls.live_info?.byAppId[appId]).toBe(before + 1);

    // Ten minutes before the start: read every 30 s from now on.
    clock.advance(49 * 60_000);
    await loop.runOnce();
    expect((await stateOf(appId))?.nextSyncAt.getTime()).toBe(clock.now() + LIVE_SYNC_PACE.soonMs);

    clock.advance(10 * 60_000 + 1_000);
    await loop.runOnce();
    clock.advance(1800_000);
    await loop.runOnce();
    expect(statusesOf(published, appId)).toEqual([
      [null, 'NOT_STARTED'],
      ['NOT_STARTED', 'LIVE'],
      ['LIVE', 'ENDED'],
    ]);
    // Ended and nothing else near: rarely again.
    expect((await stateOf(appId))?.nextSyncAt.getTime()).toBe(clock.now() + LIVE_SYNC_PACE.rareMs);
    // The events are the rows of live_events, cursors growing; no endpoint, so no delivery.
    const rows = await env.database.db.select().from(liveEvents).where(eq(liveEvents.appId, appId)).orderBy(liveEvents.id);
    expect(rows.map((r) => String(r.id))).toEqual(published.filter((e) => e.appId === appId).map((e) => e.cursor));
    expect(enqueued).toEqual([]);
  });

  it('reads every page of a long room list, stopping by total; a merchant without rooms costs one call (9410000)', async () => {
    const { calls, sync } = syncer();
    const empty = await openMerchant();
    const ctx = systemContext(tenant.tenantId);
    const none = await sync.refresh(ctx, empty);
    expect(none.outcome).toMatchObject({ calls: 1, rooms: 0, complete: true, error: null });

    const many = await openMerchant();
    for (let i = 0; i < 81; i++) await createRoom(calls, many, 3600 * 24 + i * 60, 1800);
    const full = await sync.refresh(ctx, many);
    expect(full.outcome).toMatchObject({ calls: 2, rooms: 81, complete: true, error: null });
    expect(full.outcome?.events).toHaveLength(81);
  });

  it('gives each merchant to one worker at a time; a lease whose worker died is taken back after it runs out', async () => {
    const a = syncer();
    const b = syncer();
    const t = await createTenant(admin, env);
    const appIds = await Promise.all([1, 2, 3, 4, 5].map(() => openMerchant(t)));
    await a.sync.enroll();
    const [first, second] = await Promise.all([a.sync.claim(100), b.sync.claim(100)]);
    const mine = (c: { appId: string }[]) => c.map((x) => x.appId).filter((id) => appIds.includes(id));
    expect([...mine(first ?? []), ...mine(second ?? [])].sort()).toEqual([...appIds].sort());
    expect(new Set([...mine(first ?? []), ...mine(second ?? [])]).size).toBe(5);
    // Held: nobody else gets them, whatever is due.
    expect(mine(await b.sync.claim(100))).toEqual([]);
    clock.advance(LIVE_SYNC_PACE.leaseMs);
    expect(mine(await b.sync.claim(100)).sort()).toEqual([...appIds].sort());
  });

  it('syncs each due merchant exactly once when two workers run rounds at the same time', async () => {
    const a = syncer();
    const b = syncer();
    const t = await createTenant(admin, env);
    const appIds = await Promise.all(Array.from({ length: 8 }, () => openMerchant(t)));
    await a.sync.enroll();
    const before = (await admin.counters()).calls.live_info?.byAppId ?? {};
    const outcomes = (await Promise.all([a.loop.runOnce(), b.loop.runOnce(), a.loop.runOnce(), b.loop.runOnce(), a.loop.runOnce()])).flat();
    const mine = outcomes.filter((o) => appIds.includes(o.appId)).map((o) => o.appId);
    expect(mine.sort()).toEqual([...appIds].sort());
    const after = (await admin.counters()).calls.live_info?.byAppId ?? {};
    expect(appIds.map((id) => (after[id] ?? 0) - (before[id] ?? 0))).toEqual(appIds.map(() => 1));
  });

  it("turns a good's audit passing into live_goods.updated", async () => {
    const { calls, loop, published } = syncer();
    const appId = await openMerchant();
    const ctx = systemContext(tenant.tenantId);
    const upload = await calls.call(ctx, appId, { endpoint: 'media_upload', operation: 'test', request: {} }, (c, token) =>
      c.uploadImage(token, { filename: 'g.png', contentType: 'image/png', bytes: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 9]) }),
    );
    if (!upload.ok) throw new Error(upload.error.message);
    const added = await calls.call(ctx, appId, { endpoint: 'goods_add', operation: 'test', request: {} }, (c, t) =>
      c.addGoods(t, { coverImgUrl: upload.value.mediaId, name: '保温杯', priceType: 1, price: 59.9, url: 'pages/goods/1' }),
    );
    if (!added.ok) throw new Error(added.error.message);
    const read = await calls.call(ctx, appId, { endpoint: 'goods_warehouse', operation: 'test', request: {} }, (c, t) => c.goodsById(t, [added.value.goodsId]));
    if (!read.ok) throw new Error(read.error.message);
    await inTenant(env.appDatabase.db, tenant.tenantId, (db) => mirrorGoods(db, clock, { tenantId: tenant.tenantId, appId }, read.value));

    await loop.runOnce();
    // In audit: read again within a minute even with no room near.
    expect((await stateOf(appId))?.nextSyncAt.getTime()).toBe(clock.now() + LIVE_SYNC_PACE.auditingMs);
    clock.advance(LIVE_SYNC_PACE.auditingMs);
    await loop.runOnce();
    const goods = published.filter((e) => e.appId === appId && e.type === 'live_goods.updated');
    expect(goods.map((e) => [e.subjectId, e.data.previousStatus, e.data.auditStatus])).toEqual([[added.value.goodsId, 'AUDITING', 'APPROVED']]);
    // Approved: nothing in audit, so rarely again.
    expect((await stateOf(appId))?.nextSyncAt.getTime()).toBe(clock.now() + LIVE_SYNC_PACE.rareMs);
  });

  it('retries a failed read soon once, then at the rare pace while it keeps failing; a merchant marked due is read on the next round', async () => {
    const { sync } = syncer();
    const t = await createTenant(admin, env);
    const appId = await openMerchant(t);
    const ctx = systemContext(t.tenantId);
    await sync.enroll();
    const next = async () => {
      const claims = (await sync.claim(100)).filter((c) => c.appId === appId);
      expect(claims).toHaveLength(1);
      return sync.syncClaimed(claims[0] as (typeof claims)[number]);
    };
    await admin.setLiveScenario(appId, ['live_info'], { kind: 'errcode', errcode: -1, times: 2 });
    const first = await next();
    expect(first.error).toMatchObject({ errcode: -1 });
    expect(first.nextSyncAt.getTime()).toBe(clock.now() + LIVE_SYNC_PACE.retryMs);
    clock.advance(LIVE_SYNC_PACE.retryMs);
    const second = await next();
    expect(second.nextSyncAt.getTime()).toBe(clock.now() + LIVE_SYNC_PACE.rareMs);
    expect((await stateOf(appId))?.lastError).toContain('-1');
    clock.advance(LIVE_SYNC_PACE.rareMs);
    const third = await next();
    expect(third).toMatchObject({ error: null, complete: true });
    expect((await stateOf(appId))?.lastError).toBeNull();

    // Rarely due now; marked due (a room made through the gateway), it is claimed at once.
    expect((await sync.claim(100)).filter((c) => c.appId === appId)).toEqual([]);
    await sync.markDue(ctx, appId);
    expect((await sync.claim(100)).filter((c) => c.appId === appId)).toHaveLength(1);
  });

  it('stops for a merchant whose getliveinfo quota is spent, and resumes on the next quota day', async () => {
    const t = await createTenant(admin, env);
    const appId = await openMerchant(t);
    const { sync } = syncer({ live_info: 2 });
    const due = async () => {
      await env.database.db
        .update(liveSyncState)
        .set({ nextSyncAt: new Date(clock.now()) })
        .where(and(eq(liveSyncState.tenantId, t.tenantId), eq(liveSyncState.appId, appId)));
      await sync.enroll();
      const claims = (await sync.claim(100)).filter((c) => c.appId === appId);
      expect(claims).toHaveLength(1);
      return sync.syncClaimed(claims[0] as (typeof claims)[number]);
    };
    await sync.enroll();
    expect((await due()).error).toBeNull();
    expect((await due()).error).toBeNull();
    const refused = await due();
    expect(refused.error).toMatchObject({ code: 'API_QUOTA_REACHED' });
    expect(refused.calls).toBe(0);
    expect(refused.nextSyncAt.getTime()).toBe(nextQuotaDayStart(clock.now()));
    expect((await stateOf(appId))?.lastError).toMatch(/^API_QUOTA_REACHED/);
    // Not claimed again today.
    clock.advance(3600_000);
    expect((await sync.claim(100)).filter((c) => c.appId === appId)).toEqual([]);
    clock.set(nextQuotaDayStart(clock.now()));
    const claims = (await sync.claim(100)).filter((c) => c.appId === appId);
    expect(claims).toHaveLength(1);
    const resumed = await sync.syncClaimed(claims[0] as (typeof claims)[number]);
    expect(resumed).toMatchObject({ error: null, calls: 1 });
  });
});
