import type { App } from '../app/create-app.js';
import { systemContext } from '../services/context.js';
import type { SimulatorAdmin } from '../wechat/simulator/admin-client.js';
import type { SimScenario } from '../wechat/simulator/types.js';

/** Deterministic so a second run of the demo finds its own data again. */
export const DEMO = {
  tenantName: 'Demo Provider',
  componentAppId: 'wxdemo0000component',
  componentAppSecret: 'demo-component-secret',
  token: 'demotoken',
  encodingAesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  merchants: [
    { appId: 'wx00000000000000a1', scenario: { kind: 'accept' }, openAfterMs: 3000 },
    { appId: 'wx00000000000000b2', scenario: { kind: 'not_paid' }, openAfterMs: null },
    { appId: 'wx00000000000000c3', scenario: { kind: 'accept' }, openAfterMs: null },
    // Live opened before the gateway (WeChat grants no new live today): imported open, it has a room.
    { appId: 'wx00000000000000d4', scenario: { kind: 'accept' }, openAfterMs: null, liveOpen: true },
  ] as SimMerchant[],
  /** The live merchant's room goes live this long after the demo starts, and ends this long after that. */
  room: { liveAfterMs: 20_000, endAfterMs: 40_000 },
};

/** A 1×1 PNG: the room's cover and share image, uploaded as temporary media like any console's. */
const PIXEL = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

export interface SimMerchant {
  appId: string;
  scenario: SimScenario;
  /** After an accepted apply the simulated admin accepts after this long; null = never. */
  openAfterMs: number | null;
  /** Live already open (imported so): no application is made for it. */
  liveOpen?: boolean;
}

export interface SimComponent {
  componentAppId: string;
  componentAppSecret: string;
  token: string;
  encodingAesKey: string;
}

/**
 * Registers a tenant's component and merchants in the WeChat simulator with the gateway's webhook
 * URLs (so the simulator pushes its ticket and open events to us), and imports the merchants.
 * Used by the demo, end-to-end tests and benchmarks.
 */
export async function connectTenantToSimulator(
  sim: SimulatorAdmin,
  deps: { webhookBaseUrl: string; authorizers: App['services']['authorizers'] },
  tenantId: string,
  component: SimComponent,
  merchants: readonly SimMerchant[],
): Promise<void> {
  await sim.registerComponent({
    ...component,
    authUrl: `${deps.webhookBaseUrl}/webhooks/wechat/${tenantId}/auth`,
    messageUrlTemplate: `${deps.webhookBaseUrl}/webhooks/wechat/${tenantId}/events/$APPID$`,
  });
  const ticket = await sim.issueTicket({ componentAppId: component.componentAppId });
  if (ticket.push?.status !== 200) throw new Error(`the simulator could not push its ticket to the gateway: ${ticket.push?.error ?? ticket.push?.body}`);
  const imports = [];
  for (const m of merchants) {
    const { refreshToken } = await sim.addAuthorizer({ componentAppId: component.componentAppId, appId: m.appId, refreshToken: `sim-refresh-${m.appId}` });
    await sim.setBehaviour({ appId: m.appId, scenario: m.scenario, openAfterMs: m.openAfterMs });
    imports.push({ appId: m.appId, refreshToken, permissionSets: [52], liveOpen: m.liveOpen === true });
  }
  await deps.authorizers.import(systemContext(tenantId), imports);
}

export interface SeededDemo {
  tenantId: string;
  apiKey: string;
  /** The merchants applied for. */
  appIds: string[];
  /** The merchant whose live is open, and its room (made on the first run). */
  liveAppId: string;
  roomId: number | null;
}

/** The demo tenant and its three merchants; the three applications are made on the first run. */
export async function seedDemo(app: App, sim: SimulatorAdmin): Promise<SeededDemo> {
  if (!app.url) throw new Error('the demo needs the API role');
  const { tenants, authorizers, applications, lifecycle } = app.services;
  const existing = (await tenants.list()).find((t) => t.componentAppId === DEMO.componentAppId);
  const tenantId = existing ? existing.id : (await tenants.create({ name: DEMO.tenantName, ...componentOf(DEMO) })).tenant.id;
  const apiKey = (await tenants.createApiKey(tenantId, ['write'])).key;
  await connectTenantToSimulator(sim, { webhookBaseUrl: app.url, authorizers }, tenantId, componentOf(DEMO), DEMO.merchants);
  const ctx = systemContext(tenantId);
  const appIds = DEMO.merchants.filter((m) => !m.liveOpen).map((m) => m.appId);
  const current = await applications.list(ctx, { first: 10 });
  if (current.items.length === 0) await lifecycle.applyBatch(ctx, appIds);
  const live = DEMO.merchants.find((m) => m.liveOpen) as SimMerchant;
  const roomId = await demoRoom(app, sim, tenantId, live.appId);
  return { tenantId, apiKey, appIds, liveAppId: live.appId, roomId };
}

/**
 * A room for the live merchant, through the same services a console's mutations use (image
 * upload, createroom); then the simulated anchor goes live and ends, which the sync loop sees
 * and turns into liveRoomUpdated events. The simulator forgets its rooms when the demo stops,
 * so each run makes one.
 */
async function demoRoom(app: App, sim: SimulatorAdmin, tenantId: string, appId: string): Promise<number | null> {
  const ctx = systemContext(tenantId);
  const image = await app.live.liveMedia.upload(ctx, { appId, dataBase64: PIXEL });
  if (!image.image) throw new Error(`demo room image: ${JSON.stringify(image.userErrors)}`);
  // Starting within 15 minutes keeps the sync loop at its 30 s pace for this merchant.
  const start = Math.ceil((Date.now() + 11 * 60_000) / 1000) * 1000;
  const created = await app.live.liveRooms.create(ctx, {
    appId,
    name: 'Demo live room',
    coverMediaId: image.image.mediaId,
    shareMediaId: image.image.mediaId,
    startTime: new Date(start),
    endTime: new Date(start + 2 * 3_600_000),
    anchorName: 'Demo anchor',
    anchorWechat: 'demo_anchor',
    closeKf: true,
  });
  const room = created.room;
  if (!room) throw new Error(`demo room: ${JSON.stringify(created.userErrors)}`);
  const later = (ms: number, liveStatus: number) =>
    setTimeout(() => void sim.setLiveRoomStatus(appId, room.roomId, liveStatus).catch(() => undefined), ms).unref();
  later(DEMO.room.liveAfterMs, 101);
  later(DEMO.room.liveAfterMs + DEMO.room.endAfterMs, 103);
  return room.roomId;
}

function componentOf(c: SimComponent): SimComponent {
  return { componentAppId: c.componentAppId, componentAppSecret: c.componentAppSecret, token: c.token, encodingAesKey: c.encodingAesKey };
}
