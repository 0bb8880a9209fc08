import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizers, liveApiCalls } from '../../src/db/tables.js';
import { inTenant } from '../../src/db/tenant-scope.js';
import { ApiQuotaLimiter } from '../../src/jobs/api-quota.js';
import { ManualClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { systemContext } from '../../src/services/context.js';
import { LiveCalls } from '../../src/services/live-ops/live-calls.js';
import { mirrorRooms } from '../../src/services/live-ops/live-mirror.js';
import { roomErrors } from '../../src/services/live-ops/live-rules.js';
import type { RoomFields } from '../../src/wechat/live/live-client.js';
import { SimulatorAdmin } from '../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../src/wechat/simulator/server.js';
import { createWechatApi, type WechatApi } from '../../src/wechat/wechat-api.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { createAuthorizer, createTenant, credentialStore, type TenantFixture } from '../wechat/support/fixtures.js';

// The live management foundations end to end: the gateway's client over real HTTP to the
// simulator, the per-API quota in Redis, the audit trail and the mirror in Postgres.

const T0 = Date.UTC(2026, 2, 10, 2, 0, 0);
let env: TestEnv;
let sim: RunningSimulator;
let admin: SimulatorAdmin;
let wechat: WechatApi;
let tenant: TenantFixture;
let appId: string;
const clock = new ManualClock(T0);

beforeAll(async () => {
  env = await createTestEnv();
  sim = await startSimulator({ clock, tokenTtlSeconds: 30 * 86_400 });
  admin = new SimulatorAdmin(sim.url);
  wechat = createWechatApi({ baseUrl: sim.url, redis: env.redis, prefix: env.redisPrefix, store: credentialStore(env), clock });
  tenant = await createTenant(admin, env);
  appId = await createAuthorizer(admin, env, tenant);
  await env.database.db.update(authorizers).set({ liveOpen: true }).where(eq(authorizers.appId, appId));
});

afterAll(async () => {
  await sim.stop();
  await env.cleanup();
});

function calls(limits: Partial<Record<'room' | 'media' | 'live_info', number>> = {}) {
  const quota = new ApiQuotaLimiter(env.redis, { prefix: `${env.redisPrefix}:${Math.random()}`, limits });
  const live = new LiveCalls({ db: env.appDatabase.db, wechat: { run: (t, a, call) => wechat.runLive(t, a, call) }, quota, clock, logger: silentLogger });
  return { quota, live };
}

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);

async function roomFields(live: LiveCalls, anchorWechat = 'anchor_li'): Promise<RoomFields> {
  const ctx = systemContext(tenant.tenantId);
  const upload = await live.call(ctx, appId, { endpoint: 'media_upload', operation: 'test', request: {} }, (c, token) =>
    c.uploadImage(token, { filename: 'cover.png', contentType: 'image/png', bytes: PNG }),
  );
  if (!upload.ok) throw new Error(upload.error.message);
  const media = upload.value.mediaId;
  const start = Math.floor(clock.now() / 1000) + 3600;
  return {
    name: '春季新品直播',
    coverImg: media,
    shareImg: media,
    feedsImg: media,
    startTime: start,
    endTime: start + 7200,
    anchorName: '主播小李',
    anchorWechat,
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
}

describe('live calls', () => {
  it('creates a room over HTTP, mirrors it, and turns the status WeChat reports on its clock into events', async () => {
    const { live } = calls();
    const ctx = systemContext(tenant.tenantId);
    const fields = await roomFields(live);
    const created = await live.call(ctx, appId, { endpoint: 'room_create', operation: 'test', request: { name: fields.name } }, (c, t) =>
      c.createRoom(t, fields),
    );
    expect(created.ok).toBe(true);
    const list = async () => {
      const page = await live.call(ctx, appId, { endpoint: 'live_info', operation: 'test', request: {} }, (c, t) => c.rooms(t, 0, 80));
      if (!page.ok) throw new Error(page.error.message);
      return page.value.rooms;
    };
    const first = await inTenant(env.appDatabase.db, tenant.tenantId, async (db) =>
      mirrorRooms(db, clock, { tenantId: tenant.tenantId, appId }, await list(), true),
    );
    expect(first.rooms.map((r) => r.status)).toEqual(['NOT_STARTED']);
    expect(first.events.map((e) => [e.type, e.data.status, e.data.previousStatus])).toEqual([['live_room.updated', 'NOT_STARTED', null]]);

    // Nothing changed: no event.
    const same = await inTenant(env.appDatabase.db, tenant.tenantId, async (db) =>
      mirrorRooms(db, clock, { tenantId: tenant.tenantId, appId }, await list(), true),
    );
    expect(same.events).toEqual([]);

    clock.advance(3600_000 + 1000);
    const live1 = await inTenant(env.appDatabase.db, tenant.tenantId, async (db) =>
      mirrorRooms(db, clock, { tenantId: tenant.tenantId, appId }, await list(), true),
    );
    expect(live1.events.map((e) => [e.data.status, e.data.previousStatus])).toEqual([['LIVE', 'NOT_STARTED']]);
    expect(Number(live1.events[0]?.cursor)).toBeGreaterThan(Number(first.events[0]?.cursor));

    const audit = await env.database.db
      .select()
      .from(liveApiCalls)
      .where(and(eq(liveApiCalls.tenantId, tenant.tenantId), eq(liveApiCalls.endpoint, 'room_create')));
    expect(audit.map((a) => [a.outcome, a.errcode, a.operation])).toEqual([['OK', 0, 'test']]);
  });

  it("returns WeChat's refusal as a stable code with errcode, errmsg and the real-name QR code, and audits it", async () => {
    const { live } = calls();
    const ctx = systemContext(tenant.tenantId);
    const fields = await roomFields(live, 'unverified_wang');
    const result = await live.call(ctx, appId, { endpoint: 'room_create', operation: 'refused', request: {} }, (c, t) => c.createRoom(t, fields));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatchObject({ code: 'ANCHOR_NOT_VERIFIED', errcode: 300036 });
    expect(result.error.errmsg).toContain('real-name');
    expect(result.error.qrcodeUrl).toMatch(/^https:\/\//);
    const [row] = await env.database.db.select().from(liveApiCalls).where(eq(liveApiCalls.operation, 'refused'));
    expect(row).toMatchObject({ outcome: 'ERRCODE', errcode: 300036, endpoint: 'room_create', quotaGroup: 'room' });
  });

  it('holds a quota group exactly under concurrent calls, and refuses before calling WeChat once it is spent', async () => {
    const { live, quota } = calls({ live_info: 5 });
    const ctx = systemContext(tenant.tenantId);
    const before = (await admin.counters()).calls.live_info?.total ?? 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, () => live.call(ctx, appId, { endpoint: 'live_info', operation: 'quota', request: {} }, (c, t) => c.rooms(t, 0, 80))),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(5);
    expect(results.filter((r) => !r.ok).map((r) => (r.ok ? null : r.error.code))).toEqual(Array(15).fill('API_QUOTA_REACHED'));
    expect(((await admin.counters()).calls.live_info?.total ?? 0) - before).toBe(5);
    const usage = (await quota.usage(tenant.tenantId, appId, clock.now())).find((u) => u.group === 'live_info');
    expect(usage).toMatchObject({ dailyLimit: 5, used: 5, remaining: 0 });
  });

  it('a 45009 from WeChat marks the day spent until the next quota day', async () => {
    const { live, quota } = calls();
    const ctx = systemContext(tenant.tenantId);
    await admin.setLiveScenario(appId, ['live_info'], { kind: 'errcode', errcode: 45009, times: 1 });
    const spent = await live.call(ctx, appId, { endpoint: 'live_info', operation: 'spent', request: {} }, (c, t) => c.rooms(t, 0, 80));
    expect(spent.ok ? null : spent.error).toMatchObject({ code: 'API_QUOTA_REACHED', errcode: 45009 });
    const next = await quota.reserve(tenant.tenantId, appId, 'live_info', clock.now());
    expect(next).toMatchObject({ ok: false, reason: 'SPENT' });
    clock.advance(86_400_000);
    expect(await quota.reserve(tenant.tenantId, appId, 'live_info', clock.now())).toMatchObject({ ok: true });
  });

  it('checks the merchant before any call: unknown, not open', async () => {
    const { live } = calls();
    const ctx = systemContext(tenant.tenantId);
    expect(await live.checkMerchant(ctx, 'wx0000000000000000')).toMatchObject({ code: 'NOT_FOUND' });
    expect(await live.checkMerchant(ctx, 'not-an-app-id')).toMatchObject({ code: 'INVALID_APP_ID' });
    const closed = await createAuthorizer(admin, env, tenant);
    expect(await live.checkMerchant(ctx, closed)).toMatchObject({ code: 'LIVE_NOT_OPEN' });
    expect(await live.checkMerchant(ctx, appId)).toBeNull();
    // Another tenant does not see this tenant's merchant.
    const other = await createTenant(admin, env);
    expect(await live.checkMerchant(systemContext(other.tenantId), appId)).toMatchObject({ code: 'NOT_FOUND' });
  });

  it("checks WeChat's room rules before spending a call", () => {
    const start = new Date(T0 + 5 * 60_000);
    const errors = roomErrors({ name: 'ab', anchorName: '李', startTime: start, endTime: new Date(start.getTime() + 10 * 60_000) }, T0);
    expect(errors.map((e) => e.field?.join('.'))).toEqual(['input.name', 'input.anchorName', 'input.startTime', 'input.endTime']);
    const ok = new Date(T0 + 3600_000);
    expect(roomErrors({ name: '春季新品直播', anchorName: '主播小李', startTime: ok, endTime: new Date(ok.getTime() + 3600_000) }, T0)).toEqual([]);
  });
});
