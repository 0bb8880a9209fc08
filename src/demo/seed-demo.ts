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
  ] as SimMerchant[],
};

export interface SimMerchant {
  appId: string;
  scenario: SimScenario;
  /** After an accepted apply the simulated admin accepts after this long; null = never. */
  openAfterMs: number | null;
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
    imports.push({ appId: m.appId, refreshToken, permissionSets: [52] });
  }
  await deps.authorizers.import(systemContext(tenantId), imports);
}

export interface SeededDemo {
  tenantId: string;
  apiKey: string;
  appIds: string[];
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
  const appIds = DEMO.merchants.map((m) => m.appId);
  const current = await applications.list(ctx, { first: 10 });
  if (current.items.length === 0) await lifecycle.applyBatch(ctx, appIds);
  return { tenantId, apiKey, appIds };
}

function componentOf(c: SimComponent): SimComponent {
  return { componentAppId: c.componentAppId, componentAppSecret: c.componentAppSecret, token: c.token, encodingAesKey: c.encodingAesKey };
}
