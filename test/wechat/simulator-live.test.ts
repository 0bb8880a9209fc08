import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LIVE_QUOTA_GROUPS, WECHAT_ENDPOINTS } from '../../src/wechat/endpoints.js';
import { SimulatorAdmin, SimulatorAdminError } from '../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../src/wechat/simulator/server.js';
import { randomAppId, randomEncodingAesKey } from './support/fixtures.js';

// The live management endpoints over real HTTP, with tokens from the component flow.

let sim: RunningSimulator;
let admin: SimulatorAdmin;

beforeAll(async () => {
  // Tokens outlive the days the tests move the clock by.
  sim = await startSimulator({ port: 0, tokenTtlSeconds: 10 * 86_400 });
  admin = new SimulatorAdmin(sim.url);
});

afterAll(async () => {
  await sim.stop();
});

// 2026-03-10 10:00 UTC: every test starts from the same simulator time.
const T0_MS = Date.UTC(2026, 2, 10, 10, 0, 0);
const T0 = T0_MS / 1000;

beforeEach(async () => {
  await admin.reset();
  await admin.setClock({ nowMs: T0_MS });
});

type Reply = Record<string, unknown> & { errcode?: number; errmsg?: string };

interface Merchant {
  appId: string;
  token: string;
  componentAppId: string;
}

/** A component, an authorizer of it, and the authorizer's access token obtained over HTTP. */
async function merchant(options: { funcInfo?: number[] } = {}): Promise<Merchant> {
  const componentAppId = randomAppId();
  const componentAppSecret = 'secret';
  const { ticket } = await admin.registerComponent({ componentAppId, componentAppSecret, token: 'tok', encodingAesKey: randomEncodingAesKey() });
  const appId = randomAppId();
  const { refreshToken } = await admin.addAuthorizer({ componentAppId, appId, ...options });
  const component = await post(WECHAT_ENDPOINTS.api_component_token, '', {
    component_appid: componentAppId,
    component_appsecret: componentAppSecret,
    component_verify_ticket: ticket,
  });
  const authorizer = await raw(`${WECHAT_ENDPOINTS.api_authorizer_token}?component_access_token=${component.component_access_token as string}`, {
    method: 'POST',
    body: JSON.stringify({ component_appid: componentAppId, authorizer_appid: appId, authorizer_refresh_token: refreshToken }),
  });
  return { appId, componentAppId, token: authorizer.authorizer_access_token as string };
}

async function raw(pathAndQuery: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(`${sim.url}${pathAndQuery}`, init);
  expect(res.status).toBe(200);
  return (await res.json()) as Reply;
}

function post(path: string, token: string, body: unknown): Promise<Reply> {
  return raw(`${path}?access_token=${encodeURIComponent(token)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

function get(path: string, token: string, query: Record<string, string | number> = {}): Promise<Reply> {
  const params = new URLSearchParams({ access_token: token, ...Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])) });
  return raw(`${path}?${params}`);
}

function upload(token: string, bytes: number, type = 'image'): Promise<Reply> {
  const form = new FormData();
  form.append('media', new Blob([Buffer.alloc(bytes, 7)], { type: 'image/png' }), 'cover.png');
  return raw(`${WECHAT_ENDPOINTS.media_upload}?access_token=${encodeURIComponent(token)}&type=${type}`, { method: 'POST', body: form });
}

async function mediaId(token: string): Promise<string> {
  const reply = await upload(token, 1024);
  return reply.media_id as string;
}

/** A valid room_create body starting `leadS` seconds after T0 (plus the clock's own drift). */
async function roomBody(m: Merchant, overrides: Record<string, unknown> = {}, leadS = 3600, lengthS = 3600) {
  const image = await mediaId(m.token);
  const now = Math.floor((await admin.getClock()).nowMs / 1000);
  return {
    name: '春季新品直播',
    coverImg: image,
    shareImg: image,
    feedsImg: image,
    startTime: now + leadS,
    endTime: now + leadS + lengthS,
    anchorName: '主播小王',
    anchorWechat: 'anchor_wang',
    type: 0,
    closeLike: 0,
    closeGoods: 0,
    closeComment: 0,
    ...overrides,
  };
}

async function createRoom(m: Merchant, overrides: Record<string, unknown> = {}, leadS = 3600, lengthS = 3600): Promise<number> {
  const reply = await post(WECHAT_ENDPOINTS.room_create, m.token, await roomBody(m, overrides, leadS, lengthS));
  expect(reply).toMatchObject({ errcode: 0 });
  return reply.roomId as number;
}

async function addGoods(m: Merchant, info: Record<string, unknown> = {}): Promise<{ goodsId: number; auditId: number }> {
  const reply = await post(WECHAT_ENDPOINTS.goods_add, m.token, {
    goodsInfo: { coverImgUrl: await mediaId(m.token), name: '有机绿茶礼盒', priceType: 1, price: 19.9, url: 'pages/goods/detail?id=1', ...info },
  });
  expect(reply).toMatchObject({ errcode: 0, goodsId: expect.any(Number), auditId: expect.any(Number) });
  return { goodsId: reply.goodsId as number, auditId: reply.auditId as number };
}

async function approvedGoods(m: Merchant): Promise<number> {
  const { goodsId } = await addGoods(m);
  await admin.advanceClock(60_000);
  return goodsId;
}

describe('media upload', () => {
  it('answers a 64-character media id for an image, and refuses other types, images over 2 MiB and a body without media', async () => {
    const m = await merchant();
    const reply = await upload(m.token, 2 * 1024 * 1024);
    // The simulator's clock runs on from T0 while the 2 MiB upload travels: a second or two later on a loaded machine.
    expect(reply).toEqual({ type: 'image', media_id: expect.stringMatching(/^[\w-]{64}$/), created_at: expect.any(Number) });
    expect((reply as { created_at: number }).created_at - T0).toBeGreaterThanOrEqual(0);
    expect((reply as { created_at: number }).created_at - T0).toBeLessThan(60);
    expect(await upload(m.token, 2 * 1024 * 1024 + 1)).toMatchObject({ errcode: 40009, errmsg: 'invalid image size' });
    expect(await upload(m.token, 10, 'voice')).toMatchObject({ errcode: 40004, errmsg: 'invalid media type' });
    const empty = await raw(`${WECHAT_ENDPOINTS.media_upload}?access_token=${m.token}&type=image`, { method: 'POST', body: new FormData() });
    expect(empty).toMatchObject({ errcode: 41005 });
    expect((await admin.counters()).calls.media_upload?.byAppId[m.appId]).toBe(4);
  });

  it('expires media ids after 3 days, and knows them only for the app that uploaded them', async () => {
    const m = await merchant();
    const other = await merchant();
    const body = await roomBody(m);
    expect(await post(WECHAT_ENDPOINTS.room_create, other.token, body)).toMatchObject({ errcode: 40007, errmsg: 'invalid media_id' });

    await admin.advanceClock(3 * 86_400_000 - 60_000);
    expect(await post(WECHAT_ENDPOINTS.room_create, m.token, await roomBody(m, { coverImg: body.coverImg }))).toMatchObject({ errcode: 0 });
    await admin.advanceClock(60_000);
    expect(await post(WECHAT_ENDPOINTS.room_create, m.token, await roomBody(m, { coverImg: body.coverImg }))).toMatchObject({ errcode: 40007 });
    const goods = { goodsInfo: { coverImgUrl: body.coverImg, name: '有机绿茶礼盒', priceType: 1, price: 10, url: 'pages/a' } };
    expect(await post(WECHAT_ENDPOINTS.goods_add, m.token, goods)).toMatchObject({ errcode: 40007 });
  });
});

describe('rooms', () => {
  it('creates rooms with ids increasing per app id from 1', async () => {
    const m = await merchant();
    const other = await merchant();
    expect(await post(WECHAT_ENDPOINTS.room_create, m.token, await roomBody(m))).toEqual({ errcode: 0, errmsg: 'ok', roomId: 1 });
    expect(await createRoom(m)).toBe(2);
    expect(await createRoom(other)).toBe(1);
  });

  it('refuses bad names, times, anchors and switches with WeChat errcodes', async () => {
    const m = await merchant();
    const create = async (overrides: Record<string, unknown>, leadS?: number, lengthS?: number) =>
      post(WECHAT_ENDPOINTS.room_create, m.token, await roomBody(m, overrides, leadS, lengthS));
    // 3 Chinese characters (6 counted) is the shortest name, 17 (34) the longest.
    expect(await create({ name: '直播间' })).toMatchObject({ errcode: 0 });
    expect(await create({ name: 'ab直播' })).toMatchObject({ errcode: 0 });
    expect(await create({ name: '直播' })).toMatchObject({ errcode: 200002, errmsg: expect.stringContaining('name') });
    expect(await create({ name: '直'.repeat(18) })).toMatchObject({ errcode: 200002, errmsg: expect.stringContaining('name') });
    expect(await create({ name: undefined })).toMatchObject({ errcode: 200002, errmsg: expect.stringContaining('name') });
    expect(await create({ anchorName: '王' })).toMatchObject({ errcode: 200002, errmsg: expect.stringContaining('anchorName') });
    expect(await create({ closeLike: 2 })).toMatchObject({ errcode: 200002, errmsg: expect.stringContaining('closeLike') });
    expect(await create({ type: undefined })).toMatchObject({ errcode: 200002, errmsg: expect.stringContaining('type') });

    const times = { errcode: 200002, errmsg: 'parameter startTime or endTime is invalid' };
    expect(await create({}, 5 * 60)).toMatchObject(times);
    expect(await create({}, 181 * 86_400)).toMatchObject(times);
    expect(await create({}, 3600, 29 * 60)).toMatchObject(times);
    expect(await create({}, 3600, 86_400 + 1)).toMatchObject(times);
    expect(await create({}, 11 * 60, 86_400)).toMatchObject({ errcode: 0 });

    expect(await create({ coverImg: 'made-up' })).toMatchObject({ errcode: 40007, errmsg: 'invalid media_id' });
    expect(await create({ anchorWechat: 'invalid_wx' })).toMatchObject({ errcode: 300030 });
    expect(await create({ anchorWechat: 'unverified_wx' })).toEqual({
      errcode: 300036,
      errmsg: 'room anchor not real-name verified',
      qrcode_url: expect.stringMatching(/^https:\/\/res\.wx\.qq\.com\/op_res\//),
    });
  });

  it('moves a room from NOT_STARTED to LIVE to ENDED on the simulator clock, with one replay once ended', async () => {
    const m = await merchant();
    const roomId = await createRoom(m);
    const status = async () => ((await post(WECHAT_ENDPOINTS.live_info, m.token, { start: 0, limit: 10 })).room_info as Reply[])[0]?.live_status;
    expect(await status()).toBe(102);
    const replay = { action: 'get_replay', room_id: roomId, start: 0, limit: 10 };
    expect(await post(WECHAT_ENDPOINTS.live_info, m.token, replay)).toMatchObject({ errcode: 0, live_replay: [], total: 0 });

    await admin.advanceClock(3600_000);
    expect(await status()).toBe(101);
    expect(await post(WECHAT_ENDPOINTS.room_edit, m.token, { id: roomId, ...(await roomBody(m)) })).toMatchObject({ errcode: 300023 });
    expect(await post(WECHAT_ENDPOINTS.room_delete, m.token, { id: roomId })).toMatchObject({ errcode: 300023 });

    await admin.advanceClock(3600_000);
    expect(await status()).toBe(103);
    const replays = await post(WECHAT_ENDPOINTS.live_info, m.token, replay);
    expect(replays).toMatchObject({ errcode: 0, total: 1 });
    const [entry] = replays.live_replay as Reply[];
    expect(entry).toEqual({
      create_time: expect.stringMatching(/^2026-03-10T12:0\dZ?/),
      expire_time: expect.any(String),
      media_url: expect.stringMatching(/^https:/),
    });
    expect(Date.parse(entry?.expire_time as string)).toBeGreaterThan(Date.parse(entry?.create_time as string));
    expect(await post(WECHAT_ENDPOINTS.live_info, m.token, { ...replay, room_id: 99 })).toMatchObject({ errcode: 300022 });
    // An ended room can be deleted.
    expect(await post(WECHAT_ENDPOINTS.room_delete, m.token, { id: roomId })).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(await post(WECHAT_ENDPOINTS.room_delete, m.token, { id: roomId })).toMatchObject({ errcode: 300022 });
  });

  it('keeps no replay for a room created with closeReplay 1', async () => {
    const m = await merchant();
    const roomId = await createRoom(m, { closeReplay: 1 });
    await admin.advanceClock(2 * 3600_000);
    expect(await post(WECHAT_ENDPOINTS.live_info, m.token, { action: 'get_replay', room_id: roomId, start: 0, limit: 10 })).toMatchObject({
      errcode: 0,
      total: 0,
    });
  });

  it('lets the admin force a status (banned, expired...) and give the room back to the clock', async () => {
    const m = await merchant();
    const roomId = await createRoom(m);
    await expect(admin.setLiveRoomStatus(m.appId, roomId, 104)).resolves.toMatchObject({ roomId, liveStatus: 104, forcedStatus: 104 });
    expect(((await post(WECHAT_ENDPOINTS.live_info, m.token, { start: 0, limit: 1 })).room_info as Reply[])[0]).toMatchObject({ live_status: 104 });
    expect(await post(WECHAT_ENDPOINTS.room_edit, m.token, { id: roomId, ...(await roomBody(m)) })).toMatchObject({ errcode: 300023 });
    await admin.setLiveRoomStatus(m.appId, roomId, null);
    await expect(admin.liveRooms(m.appId)).resolves.toEqual([expect.objectContaining({ roomId, liveStatus: 102, forcedStatus: null })]);
    const error = await admin.setLiveRoomStatus(m.appId, 42, 107).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SimulatorAdminError);
    expect(error).toMatchObject({ status: 404 });
  });

  it('edits a room that has not started, with the same rules as create', async () => {
    const m = await merchant();
    const roomId = await createRoom(m);
    const edited = await roomBody(m, { name: '夏季清仓直播', closeKf: 1, isFeedsPublic: 0 });
    expect(await post(WECHAT_ENDPOINTS.room_edit, m.token, { id: roomId, ...edited })).toEqual({ errcode: 0, errmsg: 'ok' });
    const [room] = (await post(WECHAT_ENDPOINTS.live_info, m.token, { start: 0, limit: 10 })).room_info as Reply[];
    expect(room).toMatchObject({ name: '夏季清仓直播', close_kf: 1, is_feeds_public: 0 });
    expect(await post(WECHAT_ENDPOINTS.room_edit, m.token, { id: roomId, ...edited, name: 'ab' })).toMatchObject({ errcode: 200002 });
    expect(await post(WECHAT_ENDPOINTS.room_edit, m.token, { id: 77, ...edited })).toMatchObject({ errcode: 300022 });
  });

  it('lists rooms by roomid with WeChat fields, pages them, and answers 9410000 for an empty page', async () => {
    const m = await merchant();
    expect(await post(WECHAT_ENDPOINTS.live_info, m.token, { start: 0, limit: 10 })).toMatchObject({ errcode: 9410000, errmsg: 'empty room list' });
    for (let i = 0; i < 3; i++) await createRoom(m, { createrWechat: 'creator_li' });
    const page = await post(WECHAT_ENDPOINTS.live_info, m.token, { start: 1, limit: 10 });
    expect(page).toMatchObject({ errcode: 0, total: 3 });
    const rooms = page.room_info as Reply[];
    expect(rooms.map((r) => r.roomid)).toEqual([2, 3]);
    expect(Object.keys(rooms[0] ?? {}).sort()).toEqual(
      [
        'name',
        'roomid',
        'cover_img',
        'share_img',
        'feeds_img',
        'live_status',
        'start_time',
        'end_time',
        'anchor_name',
        'goods',
        'live_type',
        'close_like',
        'close_goods',
        'close_comment',
        'close_kf',
        'close_replay',
        'is_feeds_public',
        'creater_openid',
      ].sort(),
    );
    expect(rooms[0]).toMatchObject({ live_type: 0, goods: [], creater_openid: expect.stringMatching(/^o/), cover_img: expect.stringMatching(/^https:/) });
    expect(await post(WECHAT_ENDPOINTS.live_info, m.token, { start: 3, limit: 10 })).toMatchObject({ errcode: 9410000 });
    expect(await post(WECHAT_ENDPOINTS.live_info, m.token, { start: 0, limit: 101 })).toMatchObject({ errcode: 200002 });
  });

  it('answers the push URL and the share code of a room, and 300022 for an unknown one', async () => {
    const m = await merchant();
    const roomId = await createRoom(m);
    expect(await get(WECHAT_ENDPOINTS.room_push_url, m.token, { roomId })).toEqual({
      errcode: 0,
      errmsg: 'ok',
      pushAddr: expect.stringMatching(/^rtmp:\/\/wxlivepush\.example\/live\//),
    });
    expect(await get(WECHAT_ENDPOINTS.room_shared_code, m.token, { roomId, params: '{"from":"test"}' })).toEqual({
      errcode: 0,
      errmsg: 'ok',
      cdnUrl: expect.stringMatching(/^https:/),
      pagePath: expect.stringContaining(`room_id=${roomId}`),
      posterUrl: expect.stringMatching(/^https:/),
    });
    expect(await get(WECHAT_ENDPOINTS.room_push_url, m.token, { roomId: 9 })).toMatchObject({ errcode: 300022 });
    expect(await get(WECHAT_ENDPOINTS.room_shared_code, m.token, { roomId: 9 })).toMatchObject({ errcode: 300022 });
  });

  it('adds, lists and removes assistants, at most 5 per room', async () => {
    const m = await merchant();
    const roomId = await createRoom(m);
    const users = [1, 2, 3, 4, 5].map((i) => ({ username: `helper_${i}`, nickname: `助手${i}` }));
    expect(await post(WECHAT_ENDPOINTS.room_add_assistant, m.token, { roomId, users })).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(await post(WECHAT_ENDPOINTS.room_add_assistant, m.token, { roomId, users: [{ username: 'helper_6', nickname: 'x' }] })).toMatchObject({
      errcode: 200002,
    });
    const list = await get(WECHAT_ENDPOINTS.room_assistant_list, m.token, { roomId });
    expect(list).toMatchObject({ errcode: 0, count: 5, maxCount: 5 });
    expect((list.list as Reply[])[0]).toEqual({
      timestamp: T0,
      headimg: expect.any(String),
      nickname: '助手1',
      alias: 'helper_1',
      openid: expect.stringMatching(/^o/),
    });
    expect(await post(WECHAT_ENDPOINTS.room_remove_assistant, m.token, { roomId, username: 'helper_1' })).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(await get(WECHAT_ENDPOINTS.room_assistant_list, m.token, { roomId })).toMatchObject({ count: 4 });
    expect(await post(WECHAT_ENDPOINTS.room_remove_assistant, m.token, { roomId, username: 'helper_1' })).toMatchObject({ errcode: 200002 });
    expect(await post(WECHAT_ENDPOINTS.room_add_assistant, m.token, { roomId: 8, users })).toMatchObject({ errcode: 300022 });
    expect(await get(WECHAT_ENDPOINTS.room_assistant_list, m.token, { roomId: 8 })).toMatchObject({ errcode: 300022 });
  });
});

describe('goods', () => {
  it('audits new goods: AUDITING, then APPROVED after the audit delay, or REJECTED for a name with "reject"', async () => {
    const m = await merchant();
    const first = await addGoods(m);
    const second = await addGoods(m, { name: 'reject商品名称' });
    expect(second.goodsId).toBe(first.goodsId + 1);
    const statusOf = async (goodsId: number) =>
      ((await post(WECHAT_ENDPOINTS.goods_warehouse, m.token, { goods_ids: [goodsId] })).goods as Reply[])[0]?.audit_status;
    expect(await statusOf(first.goodsId)).toBe(1);
    await admin.advanceClock(59_000);
    expect(await statusOf(first.goodsId)).toBe(1);
    await admin.advanceClock(1_000);
    expect(await statusOf(first.goodsId)).toBe(2);
    expect(await statusOf(second.goodsId)).toBe(3);

    await admin.updateSettings({ goodsAuditDelayMs: 5_000 });
    const resubmitted = await post(WECHAT_ENDPOINTS.goods_audit, m.token, { goodsId: second.goodsId });
    expect(resubmitted).toEqual({ errcode: 0, errmsg: 'ok', auditId: expect.any(Number) });
    expect(resubmitted.auditId).not.toBe(second.auditId);
    expect(await statusOf(second.goodsId)).toBe(1);
    await admin.advanceClock(5_000);
    expect(await statusOf(second.goodsId)).toBe(3);
  });

  it('refuses names, prices and media as WeChat does', async () => {
    const m = await merchant();
    const add = async (info: Record<string, unknown>) =>
      post(WECHAT_ENDPOINTS.goods_add, m.token, {
        goodsInfo: { coverImgUrl: await mediaId(m.token), name: '有机绿茶', priceType: 1, price: 10, url: 'pages/a', ...info },
      });
    expect(await post(WECHAT_ENDPOINTS.goods_add, m.token, {})).toMatchObject({ errcode: 200002 });
    expect(await add({ name: '绿茶' })).toMatchObject({ errcode: 300002 });
    expect(await add({ name: '绿'.repeat(15) })).toMatchObject({ errcode: 300002 });
    expect(await add({ price: 0 })).toMatchObject({ errcode: 300003, errmsg: 'price invalid' });
    expect(await add({ priceType: 2, price: 10, price2: 5 })).toMatchObject({ errcode: 300003 });
    expect(await add({ priceType: 3, price: 10, price2: 15 })).toMatchObject({ errcode: 300003 });
    expect(await add({ priceType: 4 })).toMatchObject({ errcode: 200002 });
    expect(await add({ coverImgUrl: 'made-up' })).toMatchObject({ errcode: 40007 });
    expect(await add({ priceType: 2, price: 10, price2: 15 })).toMatchObject({ errcode: 0 });
    expect(await add({ priceType: 3, price: '15.50', price2: '9.99' })).toMatchObject({ errcode: 0 });
  });

  it('resets, resubmits, deletes and updates goods only in the states WeChat allows', async () => {
    const m = await merchant();
    const { goodsId, auditId } = await addGoods(m);
    expect(await post(WECHAT_ENDPOINTS.goods_delete, m.token, { goodsId })).toMatchObject({ errcode: 300014 });
    expect(await post(WECHAT_ENDPOINTS.goods_update, m.token, { goodsInfo: { goodsId, price: 5 } })).toMatchObject({ errcode: 300010 });
    expect(await post(WECHAT_ENDPOINTS.goods_audit, m.token, { goodsId })).toMatchObject({ errcode: 300010 });
    expect(await post(WECHAT_ENDPOINTS.goods_reset_audit, m.token, { goodsId, auditId })).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(await post(WECHAT_ENDPOINTS.goods_reset_audit, m.token, { goodsId, auditId })).toMatchObject({ errcode: 300009 });
    // Not submitted: every field may change.
    expect(await post(WECHAT_ENDPOINTS.goods_update, m.token, { goodsInfo: { goodsId, name: '红茶礼盒装', url: 'pages/b' } })).toMatchObject({ errcode: 0 });
    expect(await post(WECHAT_ENDPOINTS.goods_audit, m.token, { goodsId })).toMatchObject({ errcode: 0 });
    await admin.advanceClock(60_000);
    expect(await post(WECHAT_ENDPOINTS.goods_update, m.token, { goodsInfo: { goodsId, name: '白茶礼盒装' } })).toMatchObject({
      errcode: 300011,
      errmsg: 'approved goods can only change price',
    });
    expect(await post(WECHAT_ENDPOINTS.goods_update, m.token, { goodsInfo: { goodsId, priceType: 2, price: 5, price2: 8 } })).toEqual({
      errcode: 0,
      errmsg: 'ok',
    });
    expect(await post(WECHAT_ENDPOINTS.goods_update, m.token, { goodsInfo: { goodsId, price: 9 } })).toMatchObject({ errcode: 300003 });
    const [goods] = (await post(WECHAT_ENDPOINTS.goods_warehouse, m.token, { goods_ids: [goodsId] })).goods as Reply[];
    expect(goods).toEqual({
      goods_id: goodsId,
      cover_img_url: expect.stringMatching(/^https:/),
      name: '红茶礼盒装',
      audit_status: 2,
      price_type: 2,
      price: 5,
      price2: 8,
      url: 'pages/b',
      third_party_tag: 2,
    });
    expect(await post(WECHAT_ENDPOINTS.goods_delete, m.token, { goodsId })).toEqual({ errcode: 0, errmsg: 'ok' });
    for (const endpoint of [WECHAT_ENDPOINTS.goods_delete, WECHAT_ENDPOINTS.goods_audit]) {
      expect(await post(endpoint, m.token, { goodsId })).toMatchObject({ errcode: 300024 });
    }
    expect(await post(WECHAT_ENDPOINTS.goods_update, m.token, { goodsInfo: { goodsId, price: 1 } })).toMatchObject({ errcode: 300024 });
  });

  it('lists goods by audit status and by id, within WeChat limits', async () => {
    const m = await merchant();
    const a = await addGoods(m);
    await admin.advanceClock(60_000);
    const b = await addGoods(m, { priceType: 3, price: 20, price2: 15 });
    const approved = await get(WECHAT_ENDPOINTS.goods_approved, m.token, { offset: 0, limit: 30, status: 2 });
    expect(approved).toEqual({
      errcode: 0,
      errmsg: 'ok',
      total: 1,
      goods: [
        {
          goodsId: a.goodsId,
          coverImgUrl: expect.stringMatching(/^https:/),
          name: '有机绿茶礼盒',
          price: 19.9,
          price2: 0,
          priceType: 1,
          url: 'pages/goods/detail?id=1',
          thirdPartyAppid: '',
          thirdPartyTag: 2,
          audit_status: 2,
        },
      ],
    });
    expect(await get(WECHAT_ENDPOINTS.goods_approved, m.token, { offset: 0, limit: 30, status: 1 })).toMatchObject({
      total: 1,
      goods: [{ goodsId: b.goodsId }],
    });
    expect(await get(WECHAT_ENDPOINTS.goods_approved, m.token, { offset: 0, limit: 101, status: 2 })).toMatchObject({ errcode: 200002 });
    expect(await get(WECHAT_ENDPOINTS.goods_approved, m.token, { offset: 0, limit: 10, status: 4 })).toMatchObject({ errcode: 200002 });
    expect(await post(WECHAT_ENDPOINTS.goods_warehouse, m.token, { goods_ids: [a.goodsId, b.goodsId, 999] })).toMatchObject({ total: 2 });
    const ids = Array.from({ length: 21 }, (_, i) => i + 1);
    expect(await post(WECHAT_ENDPOINTS.goods_warehouse, m.token, { goods_ids: ids })).toMatchObject({ errcode: 200002 });
    await expect(admin.liveGoods(m.appId)).resolves.toEqual([
      expect.objectContaining({ goodsId: a.goodsId, auditStatus: 2 }),
      expect.objectContaining({ goodsId: b.goodsId, auditStatus: 1 }),
    ]);
  });

  it('adds approved goods to a room (prices in fen in getliveinfo), and refuses others, ended rooms and a 501st good', async () => {
    const m = await merchant();
    const roomId = await createRoom(m, {}, 3600, 1800);
    const approved = await approvedGoods(m);
    const auditing = (await addGoods(m)).goodsId;
    expect(await post(WECHAT_ENDPOINTS.room_add_goods, m.token, { ids: [auditing], roomId })).toMatchObject({ errcode: 300025 });
    expect(await post(WECHAT_ENDPOINTS.room_add_goods, m.token, { ids: [12345], roomId })).toMatchObject({ errcode: 300024 });
    expect(await post(WECHAT_ENDPOINTS.room_add_goods, m.token, { ids: [approved], roomId: 99 })).toMatchObject({ errcode: 300022 });
    expect(await post(WECHAT_ENDPOINTS.room_add_goods, m.token, { ids: [approved], roomId })).toEqual({ errcode: 0, errmsg: 'ok' });
    const [room] = (await post(WECHAT_ENDPOINTS.live_info, m.token, { start: 0, limit: 10 })).room_info as Reply[];
    expect(room?.goods).toEqual([
      {
        cover_img: expect.stringMatching(/^https:/),
        url: 'pages/goods/detail?id=1',
        name: '有机绿茶礼盒',
        price: 1990,
        price2: 0,
        price_type: 1,
        goods_id: approved,
        third_party_appid: '',
      },
    ]);
    await admin.advanceClock(3600_000 + 1800_000);
    expect(await post(WECHAT_ENDPOINTS.room_add_goods, m.token, { ids: [approved], roomId })).toMatchObject({ errcode: 300023 });
  });

  it('caps a room at 500 goods', async () => {
    const m = await merchant();
    await admin.updateSettings({ goodsAuditDelayMs: 0, liveQuotas: { goods_audit: 1000 } });
    const roomId = await createRoom(m);
    const image = await mediaId(m.token);
    const ids: number[] = [];
    for (let i = 0; i < 501; i++) {
      const reply = await post(WECHAT_ENDPOINTS.goods_add, m.token, {
        goodsInfo: { coverImgUrl: image, name: `goods number ${i}`, priceType: 1, price: 1, url: 'pages/a' },
      });
      ids.push(reply.goodsId as number);
    }
    expect(await post(WECHAT_ENDPOINTS.room_add_goods, m.token, { ids: ids.slice(0, 500), roomId })).toMatchObject({ errcode: 0 });
    expect(await post(WECHAT_ENDPOINTS.room_add_goods, m.token, { ids: ids.slice(0, 10), roomId })).toMatchObject({ errcode: 0 });
    expect(await post(WECHAT_ENDPOINTS.room_add_goods, m.token, { ids: [ids[500]], roomId })).toMatchObject({ errcode: 300026 });
  });
});

describe('roles', () => {
  it('adds, lists and deletes roles with WeChat errcodes', async () => {
    const m = await merchant();
    const add = (username: string, role: number) => post(WECHAT_ENDPOINTS.role_add, m.token, { username, role });
    expect(await add('anchor_wang', 2)).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(await add('anchor_wang', 3)).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(await add('anchor_wang', 2)).toMatchObject({ errcode: 400004 });
    expect(await add('invalid_one', 1)).toMatchObject({ errcode: 400001 });
    expect(await add('unverified_one', 1)).toEqual({ errcode: 400002, errmsg: 'wechat id not real-name verified', codeurl: expect.stringMatching(/^https:/) });
    expect(await add('someone', 4)).toMatchObject({ errcode: 200002 });
    for (let i = 0; i < 10; i++) expect(await add(`admin_${i}`, 1)).toMatchObject({ errcode: 0 });
    expect(await add('admin_10', 1)).toMatchObject({ errcode: 400003 });

    const list = await get(WECHAT_ENDPOINTS.role_list, m.token, { role: 2, offset: 0, limit: 10 });
    expect(list).toEqual({
      errcode: 0,
      errmsg: 'ok',
      total: 1,
      list: [
        {
          headingimg: expect.any(String),
          nickname: expect.any(String),
          openid: expect.stringMatching(/^o/),
          roleList: [2, 3],
          updateTimestamp: T0,
          username: 'anchor_wang',
        },
      ],
    });
    expect(await get(WECHAT_ENDPOINTS.role_list, m.token, { role: -1, offset: 0, limit: 30 })).toMatchObject({ total: 11 });
    expect(await get(WECHAT_ENDPOINTS.role_list, m.token, { role: 1, offset: 8, limit: 30 })).toMatchObject({ total: 10, list: [{}, {}] });
    expect(await get(WECHAT_ENDPOINTS.role_list, m.token, { keyword: 'admin_1' })).toMatchObject({ total: 1 });
    expect(await get(WECHAT_ENDPOINTS.role_list, m.token, { limit: 31 })).toMatchObject({ errcode: 200002 });

    // An anchor with a room that has not started cannot lose the anchor role.
    await createRoom(m, { anchorWechat: 'anchor_wang' });
    expect(await post(WECHAT_ENDPOINTS.role_delete, m.token, { username: 'anchor_wang', role: 2 })).toMatchObject({ errcode: 400005 });
    expect(await post(WECHAT_ENDPOINTS.role_delete, m.token, { username: 'anchor_wang', role: 3 })).toEqual({ errcode: 0, errmsg: 'ok' });
    await admin.advanceClock(3600_000);
    expect(await post(WECHAT_ENDPOINTS.role_delete, m.token, { username: 'anchor_wang', role: 2 })).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(await post(WECHAT_ENDPOINTS.role_delete, m.token, { username: 'anchor_wang', role: 2 })).toMatchObject({ errcode: 200002 });
    expect(await post(WECHAT_ENDPOINTS.role_delete, m.token, { username: 'invalid_x', role: 2 })).toMatchObject({ errcode: 400001 });
  });
});

describe('live quotas', () => {
  it('answers 45009 past the group limit exactly under concurrent calls, refused calls included, per app id and quota day', async () => {
    // 23:50 in China: ten minutes before the quota day turns.
    await admin.setClock({ nowMs: Date.UTC(2026, 2, 10, 15, 50, 0) });
    await admin.updateSettings({ liveQuotas: { room: 7 } });
    const m = await merchant();
    const other = await merchant();
    // Push URL and share code of unknown rooms: refused (300022) but counted, in the shared room group.
    const calls = Array.from({ length: 20 }, (_, i) =>
      get(i % 2 === 0 ? WECHAT_ENDPOINTS.room_push_url : WECHAT_ENDPOINTS.room_shared_code, m.token, { roomId: 1 }),
    );
    const replies = await Promise.all(calls);
    expect(replies.filter((r) => r.errcode === 300022)).toHaveLength(7);
    expect(replies.filter((r) => r.errcode === 45009)).toHaveLength(13);
    expect(replies.find((r) => r.errcode === 45009)).toEqual({ errcode: 45009, errmsg: 'reach max api daily quota limit' });
    const quota = (path: string, token = m.token) => post(WECHAT_ENDPOINTS.quota_get, token, { cgi_path: path });
    expect(await quota(WECHAT_ENDPOINTS.room_create)).toEqual({ errcode: 0, errmsg: 'ok', quota: { daily_limit: 7, used: 7, remain: 0 } });
    expect(await quota(WECHAT_ENDPOINTS.goods_add)).toMatchObject({ quota: { daily_limit: LIVE_QUOTA_GROUPS.goods_audit, used: 0 } });
    expect(await quota(WECHAT_ENDPOINTS.room_create, other.token)).toMatchObject({ quota: { used: 0, remain: 7 } });
    // Other groups and other app ids keep their own budget.
    expect(await get(WECHAT_ENDPOINTS.role_list, m.token)).toMatchObject({ errcode: 0 });
    expect(await get(WECHAT_ENDPOINTS.room_push_url, other.token, { roomId: 1 })).toMatchObject({ errcode: 300022 });
    expect((await admin.counters()).calls.room_push_url?.byAppId[m.appId]).toBe(10);

    await admin.advanceClock(10 * 60_000);
    expect(await get(WECHAT_ENDPOINTS.room_push_url, m.token, { roomId: 1 })).toMatchObject({ errcode: 300022 });
    expect(await quota(WECHAT_ENDPOINTS.room_push_url)).toMatchObject({ quota: { used: 1, remain: 6 } });
  });

  it('shares the 500 goods add and audit calls', async () => {
    await admin.updateSettings({ liveQuotas: { goods_audit: 2 } });
    const m = await merchant();
    const { goodsId } = await addGoods(m);
    expect(await post(WECHAT_ENDPOINTS.goods_audit, m.token, { goodsId })).toMatchObject({ errcode: 300010 });
    expect(await post(WECHAT_ENDPOINTS.goods_audit, m.token, { goodsId })).toMatchObject({ errcode: 45009 });
    expect(await post(WECHAT_ENDPOINTS.goods_delete, m.token, { goodsId })).toMatchObject({ errcode: 300014 });
  });
});

describe('live transport and scenarios', () => {
  it('checks the token, the method and permission set 52', async () => {
    const m = await merchant();
    expect(await get(WECHAT_ENDPOINTS.role_list, 'atk_made_up')).toMatchObject({ errcode: 40001 });
    expect(await raw(WECHAT_ENDPOINTS.role_list)).toMatchObject({ errcode: 41001 });
    expect(await post(WECHAT_ENDPOINTS.role_list, m.token, {})).toMatchObject({ errcode: 43001 });
    expect(await get(WECHAT_ENDPOINTS.live_info, m.token)).toMatchObject({ errcode: 43002 });
    const unpermitted = await merchant({ funcInfo: [1] });
    expect(await get(WECHAT_ENDPOINTS.role_list, unpermitted.token)).toMatchObject({ errcode: 61007 });
    await admin.advanceClock(10 * 86_400_000);
    expect(await get(WECHAT_ENDPOINTS.role_list, m.token)).toMatchObject({ errcode: 42001 });
    // Calls whose token is refused are counted under '-', as for applyliveinfo.
    expect((await admin.counters()).calls.role_list?.byAppId).toMatchObject({ '-': 3, [m.appId]: 1, [unpermitted.appId]: 1 });
  });

  it('answers a scenario set for live endpoints on those only, leaving applyliveinfo alone', async () => {
    const m = await merchant();
    await admin.setLiveScenario(m.appId, ['room_create', 'live_info'], { kind: 'errcode', errcode: 40001, times: 2 });
    expect(await post(WECHAT_ENDPOINTS.room_create, m.token, await roomBody(m))).toMatchObject({ errcode: 40001 });
    expect(await post(WECHAT_ENDPOINTS.live_info, m.token, { start: 0, limit: 10 })).toMatchObject({ errcode: 40001 });
    expect(await post(WECHAT_ENDPOINTS.live_info, m.token, { start: 0, limit: 10 })).toMatchObject({ errcode: 9410000 });
    expect(await post(WECHAT_ENDPOINTS.applyliveinfo, m.token, { action: 'apply' })).toMatchObject({ errcode: 0 });
    // errcode scenarios answer before the quota step: not counted.
    expect(await post(WECHAT_ENDPOINTS.quota_get, m.token, { cgi_path: WECHAT_ENDPOINTS.live_info })).toMatchObject({ quota: { used: 1 } });

    await admin.setLiveScenario(m.appId, ['role_list'], { kind: 'busy', times: 1 });
    expect(await get(WECHAT_ENDPOINTS.role_list, m.token)).toEqual({ errcode: -1, errmsg: 'system error' });
    expect(await get(WECHAT_ENDPOINTS.role_list, m.token)).toMatchObject({ errcode: 0 });
    expect(await post(WECHAT_ENDPOINTS.quota_get, m.token, { cgi_path: WECHAT_ENDPOINTS.role_list })).toMatchObject({ quota: { used: 2 } });

    await admin.setLiveScenario('*', ['goods_approved'], { kind: 'http500' });
    const res = await fetch(`${sim.url}${WECHAT_ENDPOINTS.goods_approved}?access_token=${m.token}&status=2`);
    expect(res.status).toBe(500);
    await admin.setLiveScenario(m.appId, ['role_add'], { kind: 'no_permission' });
    expect(await post(WECHAT_ENDPOINTS.role_add, m.token, { username: 'a', role: 1 })).toMatchObject({ errcode: 61007 });

    // The default target is still applyliveinfo only.
    await admin.setScenario(m.appId, { kind: 'busy', times: 'forever' });
    expect(await post(WECHAT_ENDPOINTS.applyliveinfo, m.token, { action: 'apply' })).toMatchObject({ errcode: -1 });
    expect(await get(WECHAT_ENDPOINTS.role_list, m.token)).toMatchObject({ errcode: 0 });
    const error = await admin.setLiveScenario(m.appId, ['room_create'], { kind: 'not_paid' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 400 });
  });

  it('forgets rooms, goods, roles, media and live scenarios on reset', async () => {
    const m = await merchant();
    await createRoom(m);
    await addGoods(m);
    await admin.setLiveScenario(m.appId, ['role_list'], { kind: 'http500' });
    await admin.reset();
    await expect(admin.liveRooms(m.appId)).resolves.toEqual([]);
    await expect(admin.liveGoods(m.appId)).resolves.toEqual([]);
    await expect(admin.getSettings()).resolves.toMatchObject({ liveQuotas: LIVE_QUOTA_GROUPS, goodsAuditDelayMs: 60_000 });
  });
});
