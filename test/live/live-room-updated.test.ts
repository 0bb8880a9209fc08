import { eq } from 'drizzle-orm';
import { type Client, createClient } from 'graphql-ws';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type App, createApp } from '../../src/app/create-app.js';
import { authorizers, liveSyncState } from '../../src/db/tables.js';
import { ManualClock } from '../../src/lib/clock.js';
import { systemContext } from '../../src/services/context.js';
import { LIVE_SYNC_PACE } from '../../src/services/live-ops/live-sync.service.js';
import type { RoomFields } from '../../src/wechat/live/live-client.js';
import { SimulatorAdmin } from '../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../src/wechat/simulator/server.js';
import { openSubscriptions } from '../support/metrics.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';
import { Receiver } from '../webhooks/outbound/support/receiver.js';
import { createAuthorizer, createTenant } from '../wechat/support/fixtures.js';

// Polling turned into events, end to end: a room moves on the simulator's clock (shared with the
// gateway), the worker's sync loop reads it over HTTP, a graphql-ws subscriber of the tenant sees
// each status, an EVENTS webhook endpoint receives live_room.updated, another tenant sees nothing.

const T0 = Date.UTC(2026, 2, 10, 2, 0, 0);
let env: TestEnv;
let sim: RunningSimulator;
let admin: SimulatorAdmin;
let app: App;
let receiver: Receiver;
const clients: Client[] = [];
const clock = new ManualClock(T0);

beforeAll(async () => {
  env = await createTestEnv();
  sim = await startSimulator({ clock, tokenTtlSeconds: 30 * 86_400 });
  admin = new SimulatorAdmin(sim.url);
  receiver = await new Receiver().start();
  app = await createApp(env.config({ WECHAT_API_BASE: sim.url, WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true', ROLE: 'all' }), {
    clock,
    // Poll live_sync_state often and enroll every round: the test moves the clock, not time.
    liveSync: { idleMs: 25, enrollEveryMs: 0 },
  });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await app?.stop();
  await receiver?.stop();
  await sim?.stop();
  await env?.cleanup();
});

async function gql<T>(key: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown };
  expect(body.errors).toBeUndefined();
  return body.data as T;
}

async function openTenant() {
  const t = await createTenant(admin, env);
  const appId = await createAuthorizer(admin, env, t);
  await env.database.db.update(authorizers).set({ liveOpen: true }).where(eq(authorizers.appId, appId));
  const key = (await app.services.tenants.createApiKey(t.tenantId, ['read', 'write', 'admin'])).key;
  return { ...t, appId, key };
}

type Seen = { cursor: string; type: string; appId: string; previousStatus: string | null; room: { roomId: number; status: string } | null };

async function subscribe(key: string, seen: Seen[], variables: Record<string, unknown> = {}): Promise<void> {
  const before = await openSubscriptions(app.url as string);
  const client = createClient({
    url: `${(app.url as string).replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
  });
  clients.push(client);
  client.subscribe<{ liveRoomUpdated: Seen }>(
    {
      query:
        'subscription($appId: String, $after: String) { liveRoomUpdated(appId: $appId, after: $after) { cursor type appId previousStatus room { roomId status startTime } } }',
      variables,
    },
    { next: (r) => r.data && seen.push(r.data.liveRoomUpdated), error: (e) => seen.push({ error: e } as unknown as Seen), complete: () => {} },
  );
  // graphql-ws acknowledges the connection before the subscription is registered server-side.
  await expectEventually(async () => expect(await openSubscriptions(app.url as string)).toBe(before + 1));
}

async function createRoom(tenantId: string, appId: string, startInS: number, lengthS: number): Promise<number> {
  const calls = app.live.calls;
  const ctx = systemContext(tenantId);
  const upload = await calls.call(ctx, appId, { endpoint: 'media_upload', operation: 'test', request: {} }, (c, token) =>
    c.uploadImage(token, { filename: 'cover.png', contentType: 'image/png', bytes: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]) }),
  );
  if (!upload.ok) throw new Error(upload.error.message);
  const start = Math.floor(clock.now() / 1000) + startInS;
  const fields: RoomFields = {
    name: '双十二预热直播',
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

describe('liveRoomUpdated and live_room.updated', () => {
  it('shows a room going NOT_STARTED -> LIVE -> ENDED to its tenant only, as a subscription and as a webhook, resumable after a cursor', async () => {
    const a = await openTenant();
    const b = await openTenant();
    const endpoint = await gql<{ createWebhookEndpoint: { secret: string } }>(
      a.key,
      'mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } secret userErrors { code } } }',
      { input: { url: `${receiver.url}/a`, kind: 'EVENTS', events: ['live_room.updated'] } },
    );
    const seenA: Seen[] = [];
    const seenB: Seen[] = [];
    const seenBFiltered: Seen[] = [];
    await subscribe(a.key, seenA, { appId: a.appId });
    await subscribe(b.key, seenB);
    // Naming another tenant's merchant gives nothing either.
    await subscribe(b.key, seenBFiltered, { appId: a.appId });
    // A read-only key subscribes like any other.
    const seenReadOnly: Seen[] = [];
    await subscribe((await app.services.tenants.createApiKey(a.tenantId, ['read'])).key, seenReadOnly);

    const roomId = await createRoom(a.tenantId, a.appId, 3600, 1800);
    // The loop read the merchant's empty list when it was enrolled; its next read is the rare one.
    clock.advance(LIVE_SYNC_PACE.rareMs);
    const statuses = () => seenA.filter((s) => s.room?.roomId === roomId).map((s) => s.room?.status);
    await expectEventually(() => expect(statuses()).toEqual(['NOT_STARTED']));
    clock.advance(3600_000 - LIVE_SYNC_PACE.rareMs + 1_000);
    await expectEventually(() => expect(statuses()).toEqual(['NOT_STARTED', 'LIVE']));
    clock.advance(1800_000);
    await expectEventually(() => expect(statuses()).toEqual(['NOT_STARTED', 'LIVE', 'ENDED']));
    expect(seenA.map((s) => [s.type, s.appId, s.previousStatus])).toEqual([
      ['live_room.updated', a.appId, null],
      ['live_room.updated', a.appId, 'NOT_STARTED'],
      ['live_room.updated', a.appId, 'LIVE'],
    ]);
    await expectEventually(() => expect(seenReadOnly.map((s) => s.cursor)).toEqual(seenA.map((s) => s.cursor)));
    const cursors = seenA.map((s) => Number(s.cursor));
    expect([...cursors].sort((x, y) => x - y)).toEqual(cursors);

    // The webhook: each change once, signed, with the subscription's cursor.
    const hooks = await expectEventually(() => {
      const got = receiver.at('/a');
      expect(got).toHaveLength(3);
      return got.map((r) => {
        // Signed at the gateway's (manual) clock: checked by signing again, not by verify's tolerance of the real time.
        const h = r.headers as Record<string, string>;
        const signed = new Webhook(endpoint.createWebhookEndpoint.secret).sign(
          h['webhook-id'] ?? '',
          new Date(Number(h['webhook-timestamp']) * 1000),
          r.body.toString('utf8'),
        );
        expect(h['webhook-signature']?.split(' ')).toContain(signed);
        return JSON.parse(r.body.toString('utf8')) as { type: string; data: { roomId: number; status: string; cursor: string; appId: string } };
      });
    });
    expect(hooks.map((h) => [h.type, h.data.roomId, h.data.appId]).every(([t, r, id]) => t === 'live_room.updated' && r === roomId && id === a.appId)).toBe(
      true,
    );
    expect(hooks.map((h) => h.data.status).sort()).toEqual(['ENDED', 'LIVE', 'NOT_STARTED']);
    expect(hooks.map((h) => h.data.cursor).sort()).toEqual(seenA.map((s) => s.cursor).sort());

    // Resuming after the first cursor replays the rest from Postgres, then goes live.
    const resumed: Seen[] = [];
    await subscribe(a.key, resumed, { after: seenA[0]?.cursor });
    await expectEventually(() => expect(resumed.map((s) => s.room?.status)).toEqual(['LIVE', 'ENDED']));

    // The loop's counters: reads, rooms read, changes found.
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    const sample = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? Number.NaN);
    expect(sample(/^wxlive_live_syncs_total\{outcome="ok"\} (\d+)$/m)).toBeGreaterThanOrEqual(3);
    expect(sample(/^wxlive_live_sync_rooms_total (\d+)$/m)).toBeGreaterThanOrEqual(3);
    expect(sample(/^wxlive_live_events_total\{type="live_room.updated"\} (\d+)$/m)).toBeGreaterThanOrEqual(3);

    // Another tenant's subscriber saw nothing of A's.
    expect(seenB.filter((s) => s.appId === a.appId)).toEqual([]);
    expect(seenBFiltered).toEqual([]);
  });

  it('reads a room made through the gateway on the next round, not at the rare pace, and so sees it start', async () => {
    const a = await openTenant();
    const seen: Seen[] = [];
    await subscribe(a.key, seen, { appId: a.appId });
    // Enrolled and read once (no room yet): the next read is 10 minutes away.
    const state = async () => (await env.database.db.select().from(liveSyncState).where(eq(liveSyncState.appId, a.appId)))[0];
    await expectEventually(async () => expect((await state())?.nextSyncAt.getTime()).toBe(clock.now() + LIVE_SYNC_PACE.rareMs));
    const ctx = systemContext(a.tenantId);
    const upload = await app.live.calls.call(ctx, a.appId, { endpoint: 'media_upload', operation: 'test', request: {} }, (c, token) =>
      c.uploadImage(token, { filename: 'cover.png', contentType: 'image/png', bytes: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]) }),
    );
    if (!upload.ok) throw new Error(upload.error.message);
    const start = new Date(Math.ceil((clock.now() + 12 * 60_000) / 1000) * 1000);
    const created = await app.live.liveRooms.create(ctx, {
      appId: a.appId,
      name: '十二分钟后开播',
      coverMediaId: upload.value.mediaId,
      shareMediaId: upload.value.mediaId,
      startTime: start,
      endTime: new Date(start.getTime() + 3600_000),
      anchorName: '主播小李',
      anchorWechat: 'anchor_li',
    });
    expect(created.userErrors).toEqual([]);
    const roomId = created.room?.roomId;
    // The mutation's own event, then the loop reads the merchant at once and keeps it at the 30 s pace.
    await expectEventually(() => expect(seen.filter((s) => s.room?.roomId === roomId).map((s) => s.room?.status)).toEqual(['NOT_STARTED']));
    await expectEventually(async () => expect((await state())?.nextSyncAt.getTime()).toBe(clock.now() + LIVE_SYNC_PACE.soonMs));
    clock.advance(12 * 60_000 + 1_000);
    await expectEventually(() => expect(seen.filter((s) => s.room?.roomId === roomId).map((s) => s.room?.status)).toEqual(['NOT_STARTED', 'LIVE']));
  });

  it('refuses a key without the read scope', async () => {
    const a = await openTenant();
    const tokenOnly = (await app.services.tenants.createApiKey(a.tenantId, ['token'])).key;
    const client = createClient({
      url: `${(app.url as string).replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${tokenOnly}` },
    });
    clients.push(client);
    const error = await new Promise<unknown>((resolve) => {
      client.subscribe(
        { query: 'subscription { liveRoomUpdated { cursor } }' },
        { next: () => resolve('got an event'), error: resolve, complete: () => resolve(null) },
      );
    });
    expect((Array.isArray(error) ? error[0] : error) as { extensions?: { code?: string } }).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
  });

  it('refuses a cursor it never issued', async () => {
    const a = await openTenant();
    const seen: Seen[] = [];
    const client = createClient({
      url: `${(app.url as string).replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${a.key}` },
    });
    clients.push(client);
    const error = await new Promise<unknown>((resolve) => {
      client.subscribe(
        { query: 'subscription { liveRoomUpdated(after: "1-0") { cursor } }' },
        { next: (r) => seen.push(r as never), error: resolve, complete: () => resolve(null) },
      );
    });
    const first = (Array.isArray(error) ? error[0] : (seen[0] as unknown as { errors?: unknown[] })?.errors?.[0]) as
      | { extensions?: { code?: string } }
      | undefined;
    expect(first?.extensions?.code).toBe('INVALID_INPUT');
  });
});
