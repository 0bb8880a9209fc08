import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatorAdmin } from '../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../src/wechat/simulator/server.js';
import { authPath, type RealApp, startRealApp } from '../security/support/real-app.js';
import { randomAppId } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';

/**
 * Live management after OPENED through GraphQL alone, on the real gateway over HTTP with WeChat
 * as the simulator: images, a room, goods through audit into the room, roles, status, replays,
 * the per-API quota and the audit trail.
 */

let env: TestEnv;
let sim: RunningSimulator;
let admin: SimulatorAdmin;
let gateway: RealApp;
let key: string;
let appId: string;

type Err = { code: string; message: string; field?: string[] | null; errcode?: number | null; errmsg?: string | null; qrcodeUrl?: string | null };
const ERRORS = 'userErrors { code message field errcode errmsg qrcodeUrl }';
const ROOM = 'roomId appId name status liveStatusCode startTime endTime anchorName coverImg removed goods { goodsId name price }';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]).toString('base64');

async function gql<T>(query: string, variables: Record<string, unknown> = {}, as: string | null = key): Promise<T> {
  const answer = await gateway.graphql<T>(query, variables, as);
  if (answer.body.errors) throw new Error(JSON.stringify(answer.body.errors));
  return answer.body.data as T;
}

async function upload(): Promise<string> {
  const r = await gql<{ uploadLiveImage: { image: { mediaId: string; expiresAt: string } | null; userErrors: Err[] } }>(
    `mutation($input: UploadLiveImageInput!) { uploadLiveImage(input: $input) { image { mediaId expiresAt } ${ERRORS} } }`,
    { input: { appId, dataBase64: PNG } },
  );
  expect(r.uploadLiveImage.userErrors).toEqual([]);
  return r.uploadLiveImage.image?.mediaId ?? '';
}

function roomInput(media: string, overrides: Record<string, unknown> = {}) {
  const start = Math.ceil((Date.now() + 3600_000) / 1000) * 1000;
  return {
    appId,
    name: '春季新品直播',
    coverMediaId: media,
    shareMediaId: media,
    startTime: new Date(start).toISOString(),
    endTime: new Date(start + 2 * 3600_000).toISOString(),
    anchorName: '主播小李',
    anchorWechat: 'anchor_li',
    closeKf: true,
    ...overrides,
  };
}

const CREATE = `mutation($input: CreateLiveRoomInput!) { createLiveRoom(input: $input) { room { ${ROOM} } ${ERRORS} } }`;
const QUOTA = 'query($appId: String!) { liveApiQuota(appId: $appId) { group used dailyLimit remaining } }';

async function used(group: string): Promise<number> {
  const q = await gql<{ liveApiQuota: { group: string; used: number }[] }>(QUOTA, { appId });
  return q.liveApiQuota.find((g) => g.group === group)?.used ?? -1;
}

beforeAll(async () => {
  env = await createTestEnv();
  sim = await startSimulator({ port: 0 });
  admin = new SimulatorAdmin(sim.url);
  await admin.updateSettings({ goodsAuditDelayMs: 0 });
  gateway = await startRealApp(env, { WECHAT_API_BASE: sim.url, ROLE: 'api' });
  const tenant = await gateway.tenant();
  key = tenant.apiKey;
  await admin.registerComponent({ ...tenant.input, authUrl: `${gateway.url}${authPath(tenant.id)}`, messageUrlTemplate: null });
  await admin.issueTicket({ componentAppId: tenant.keys.componentAppId });
  await gateway.app.webhooks?.drain();
  appId = randomAppId();
  const { refreshToken } = await admin.addAuthorizer({ componentAppId: tenant.keys.componentAppId, appId });
  // The merchant's live was opened before the gateway (WeChat grants no new live today): imported as open.
  const IMPORT = 'mutation($input: [ImportAuthorizerInput!]!) { importAuthorizers(input: $input) { results { authorizer { liveOpen } userErrors { code } } } }';
  const imported = await gql<{ importAuthorizers: { results: { authorizer: { liveOpen: boolean } }[] } }>(IMPORT, {
    input: [{ appId, refreshToken, permissionSets: [52], liveOpen: true }],
  });
  expect(imported.importAuthorizers.results[0]?.authorizer.liveOpen).toBe(true);
  // A later import (a refreshed token) without the flag never closes it.
  const again = await gql<{ importAuthorizers: { results: { authorizer: { liveOpen: boolean } }[] } }>(IMPORT, { input: [{ appId, refreshToken }] });
  expect(again.importAuthorizers.results[0]?.authorizer.liveOpen).toBe(true);
}, 60_000);

afterAll(async () => {
  await gateway?.app.stop();
  await sim?.stop();
  await env?.cleanup();
});

describe('live rooms, goods and roles through GraphQL', () => {
  it('refuses what WeChat would refuse before spending a call, and says what to do', async () => {
    const media = await upload();
    const soon = new Date(Math.ceil((Date.now() + 60_000) / 1000) * 1000);
    const r = await gql<{ createLiveRoom: { room: null; userErrors: Err[] } }>(CREATE, {
      input: roomInput(media, { name: '短', startTime: soon.toISOString(), endTime: new Date(soon.getTime() + 600_000).toISOString() }),
    });
    expect(r.createLiveRoom.room).toBeNull();
    expect(r.createLiveRoom.userErrors.map((e) => e.field?.join('.'))).toEqual(['input.name', 'input.startTime', 'input.endTime']);
    expect(r.createLiveRoom.userErrors.every((e) => e.code === 'INVALID_INPUT')).toBe(true);
    expect(await used('room')).toBe(0);

    const bad = await gql<{ uploadLiveImage: { userErrors: Err[] } }>(
      `mutation($input: UploadLiveImageInput!) { uploadLiveImage(input: $input) { ${ERRORS} } }`,
      { input: { appId, dataBase64: Buffer.from('not an image').toString('base64') } },
    );
    expect(bad.uploadLiveImage.userErrors[0]?.code).toBe('LIVE_MEDIA_INVALID');
    const neither = await gql<{ uploadLiveImage: { userErrors: Err[] } }>(
      `mutation($input: UploadLiveImageInput!) { uploadLiveImage(input: $input) { ${ERRORS} } }`,
      {
        input: { appId },
      },
    );
    expect(neither.uploadLiveImage.userErrors[0]?.code).toBe('INVALID_INPUT');
    expect(await used('media')).toBe(1);
  });

  it("maps WeChat's refusals to stable codes, keeping errcode, errmsg and the verification QR code", async () => {
    const media = await upload();
    const r = await gql<{ createLiveRoom: { userErrors: Err[] } }>(CREATE, { input: roomInput(media, { anchorWechat: 'unverified_wang' }) });
    const [error] = r.createLiveRoom.userErrors;
    expect(error?.code).toBe('ANCHOR_NOT_VERIFIED');
    expect(error?.errcode).toBe(300036);
    expect(error?.errmsg).toBeTruthy();
    expect(error?.qrcodeUrl).toMatch(/^https?:\/\//);
  });

  it('creates a room, puts approved goods in it, adds an anchor, follows its status and reads its replay', async () => {
    const media = await upload();
    const created = await gql<{ createLiveRoom: { room: { roomId: number; status: string }; userErrors: Err[] } }>(CREATE, { input: roomInput(media) });
    expect(created.createLiveRoom.userErrors).toEqual([]);
    const { roomId } = created.createLiveRoom.room;
    expect(created.createLiveRoom.room.status).toBe('NOT_STARTED');
    expect((await admin.liveRooms(appId)).map((r) => r.roomId)).toContain(roomId);

    // The mirror answers without WeChat; refresh reads WeChat's list (the images become URLs).
    const listed = await gql<{ liveRooms: { edges: { node: { roomId: number; coverImg: string } }[] } }>(
      `query($appId: String!, $refresh: Boolean) { liveRooms(appId: $appId, refresh: $refresh) { edges { node { ${ROOM} } } pageInfo { hasNextPage } } }`,
      { appId, refresh: true },
    );
    expect(listed.liveRooms.edges.map((e) => e.node.roomId)).toEqual([roomId]);
    expect(listed.liveRooms.edges[0]?.node.coverImg).toMatch(/^https:\/\//);

    const goods = await gql<{ addLiveGoods: { goods: { goodsId: number; auditId: number; auditStatus: string }; userErrors: Err[] } }>(
      `mutation($input: AddLiveGoodsInput!) { addLiveGoods(input: $input) { goods { goodsId auditId auditStatus } ${ERRORS} } }`,
      { input: { appId, name: '春季连衣裙', coverMediaId: media, url: 'pages/goods/detail?id=1', priceType: 1, price: 99.5 } },
    );
    expect(goods.addLiveGoods.userErrors).toEqual([]);
    const { goodsId } = goods.addLiveGoods.goods;
    expect(goods.addLiveGoods.goods.auditStatus).toBe('AUDITING');
    expect(goods.addLiveGoods.goods.auditId).toBeGreaterThan(0);

    // Not approved yet in the mirror: said before the call.
    const early = await gql<{ addGoodsToLiveRoom: { userErrors: Err[] } }>(
      `mutation($input: AddGoodsToLiveRoomInput!) { addGoodsToLiveRoom(input: $input) { ${ERRORS} } }`,
      { input: { appId, roomId, goodsIds: [goodsId] } },
    );
    expect(early.addGoodsToLiveRoom.userErrors[0]?.code).toBe('LIVE_GOODS_NOT_APPROVED');

    // An approved good may change only its price: said before the call.
    const approved = await gql<{ liveGoods: { edges: { node: { goodsId: number; auditStatus: string } }[] } }>(
      'query($appId: String!) { liveGoods(appId: $appId, refresh: true) { edges { node { goodsId auditStatus } } } }',
      { appId },
    );
    expect(approved.liveGoods.edges.find((e) => e.node.goodsId === goodsId)?.node.auditStatus).toBe('APPROVED');
    const rename = await gql<{ updateLiveGoods: { userErrors: Err[] } }>(
      `mutation($input: UpdateLiveGoodsInput!) { updateLiveGoods(input: $input) { goods { price } ${ERRORS} } }`,
      { input: { appId, goodsId, name: '夏季连衣裙' } },
    );
    expect(rename.updateLiveGoods.userErrors[0]).toMatchObject({ code: 'LIVE_GOODS_AUDIT_STATE', field: ['input', 'name'] });
    const reprice = await gql<{ updateLiveGoods: { goods: { price: number }; userErrors: Err[] } }>(
      `mutation($input: UpdateLiveGoodsInput!) { updateLiveGoods(input: $input) { goods { price } ${ERRORS} } }`,
      { input: { appId, goodsId, price: 89 } },
    );
    expect(reprice.updateLiveGoods).toEqual({ goods: { price: 89 }, userErrors: [] });

    const inRoom = await gql<{ addGoodsToLiveRoom: { room: { goods: { goodsId: number; price: number }[] }; userErrors: Err[] } }>(
      `mutation($input: AddGoodsToLiveRoomInput!) { addGoodsToLiveRoom(input: $input) { room { ${ROOM} } ${ERRORS} } }`,
      { input: { appId, roomId, goodsIds: [goodsId] } },
    );
    expect(inRoom.addGoodsToLiveRoom.userErrors).toEqual([]);
    expect(inRoom.addGoodsToLiveRoom.room.goods.map((g) => g.goodsId)).toEqual([goodsId]);
    // WeChat's own list says the same (prices in fen there, yuan here).
    const read = await gql<{ liveRoom: { goods: { goodsId: number; price: number }[] } }>(
      `query($appId: String!, $roomId: Int!) { liveRoom(appId: $appId, roomId: $roomId, refresh: true) { ${ROOM} } }`,
      { appId, roomId },
    );
    expect(read.liveRoom.goods).toEqual([{ goodsId, name: '春季连衣裙', price: 89 }]);

    const role = await gql<{ addLiveRole: { ok: boolean; userErrors: Err[] } }>(
      `mutation($input: LiveRoleInput!) { addLiveRole(input: $input) { ok ${ERRORS} } }`,
      { input: { appId, username: 'anchor_zhao', role: 'ANCHOR' } },
    );
    expect(role.addLiveRole).toEqual({ ok: true, userErrors: [] });
    const again = await gql<{ addLiveRole: { ok: boolean; userErrors: Err[] } }>(
      `mutation($input: LiveRoleInput!) { addLiveRole(input: $input) { ok ${ERRORS} } }`,
      { input: { appId, username: 'anchor_zhao', role: 'ANCHOR' } },
    );
    expect(again.addLiveRole.userErrors[0]?.code).toBe('LIVE_ROLE_EXISTS');
    const roles = await gql<{ liveRoles: { members: { username: string; roles: string[] }[]; total: number } }>(
      'query($appId: String!) { liveRoles(appId: $appId, role: ANCHOR) { total members { username roles } } }',
      { appId },
    );
    expect(roles.liveRoles.members.some((m) => m.roles.includes('ANCHOR'))).toBe(true);

    const assistant = await gql<{ addLiveRoomAssistants: { ok: boolean; userErrors: Err[] } }>(
      `mutation($input: AddLiveRoomAssistantsInput!) { addLiveRoomAssistants(input: $input) { ok ${ERRORS} } }`,
      { input: { appId, roomId, users: [{ username: 'helper_sun', nickname: '小孙' }] } },
    );
    expect(assistant.addLiveRoomAssistants).toEqual({ ok: true, userErrors: [] });
    const assistants = await gql<{ liveRoomAssistants: { assistants: { nickname: string }[]; maxCount: number; userErrors: Err[] } }>(
      `query($appId: String!, $roomId: Int!) { liveRoomAssistants(appId: $appId, roomId: $roomId) { maxCount assistants { username nickname } ${ERRORS} } }`,
      { appId, roomId },
    );
    expect(assistants.liveRoomAssistants.assistants.map((a) => a.nickname)).toEqual(['小孙']);
    expect(assistants.liveRoomAssistants.maxCount).toBeGreaterThan(0);
    const removed = await gql<{ removeLiveRoomAssistant: { ok: boolean; userErrors: Err[] } }>(
      `mutation($appId: String!, $roomId: Int!) { removeLiveRoomAssistant(appId: $appId, roomId: $roomId, username: "helper_sun") { ok ${ERRORS} } }`,
      { appId, roomId },
    );
    expect(removed.removeLiveRoomAssistant).toEqual({ ok: true, userErrors: [] });

    // The room goes live: the mirror follows on refresh; a live room cannot be deleted.
    await admin.setLiveRoomStatus(appId, roomId, 101);
    const live = await gql<{ liveRoom: { status: string } }>(
      `query($appId: String!, $roomId: Int!) { liveRoom(appId: $appId, roomId: $roomId, refresh: true) { status } }`,
      {
        appId,
        roomId,
      },
    );
    expect(live.liveRoom.status).toBe('LIVE');
    const del = await gql<{ deleteLiveRoom: { deletedRoomId: number | null; userErrors: Err[] } }>(
      `mutation($appId: String!, $roomId: Int!) { deleteLiveRoom(appId: $appId, roomId: $roomId) { deletedRoomId ${ERRORS} } }`,
      { appId, roomId },
    );
    expect(del.deleteLiveRoom.userErrors[0]?.code).toBe('ROOM_STATUS_FORBIDS');

    await admin.setLiveRoomStatus(appId, roomId, 103);
    const ended = await gql<{ liveRoom: { status: string; replays: { total: number; items: { mediaUrl: string }[]; userErrors: Err[] } } }>(
      `query($appId: String!, $roomId: Int!) { liveRoom(appId: $appId, roomId: $roomId, refresh: true) { status replays { total items { mediaUrl createTime expireTime } ${ERRORS} } } }`,
      { appId, roomId },
    );
    expect(ended.liveRoom.status).toBe('ENDED');
    expect(ended.liveRoom.replays.userErrors).toEqual([]);
    expect(ended.liveRoom.replays.total).toBe(1);
    expect(ended.liveRoom.replays.items[0]?.mediaUrl).toMatch(/\.m3u8$/);

    const gone = await gql<{ deleteLiveRoom: { deletedRoomId: number | null; userErrors: Err[] } }>(
      `mutation($appId: String!, $roomId: Int!) { deleteLiveRoom(appId: $appId, roomId: $roomId) { deletedRoomId ${ERRORS} } }`,
      { appId, roomId },
    );
    expect(gone.deleteLiveRoom).toEqual({ deletedRoomId: roomId, userErrors: [] });
    const after = await gql<{ liveRooms: { edges: unknown[] } }>('query($appId: String!) { liveRooms(appId: $appId) { edges { cursor } } }', { appId });
    expect(after.liveRooms.edges).toEqual([]);
  });

  it('shows the per-API quota and an audit trail a support person can read', async () => {
    const trail = await gql<{
      liveApiCalls: { edges: { node: { endpoint: string; operation: string; outcome: string; errcode: number | null; apiKeyId: string | null } }[] };
    }>('query($appId: String!) { liveApiCalls(appId: $appId, first: 100) { edges { node { endpoint operation outcome errcode apiKeyId latencyMs } } } }', {
      appId,
    });
    const nodes = trail.liveApiCalls.edges.map((e) => e.node);
    expect(nodes.find((n) => n.endpoint === 'room_create' && n.errcode === 300036)).toMatchObject({ outcome: 'ERRCODE', operation: 'createLiveRoom' });
    expect(nodes.filter((n) => n.endpoint === 'room_create' && n.outcome === 'OK')).toHaveLength(1);
    expect(nodes.every((n) => n.apiKeyId !== null)).toBe(true);
    // Every call that reached WeChat counts against its group, refused or not.
    expect(await used('room')).toBe(nodes.filter((n) => n.endpoint.startsWith('room_')).length);
    expect(await used('goods_audit')).toBe(1);
  });
});
