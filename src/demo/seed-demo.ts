import type { App } from '../app/create-app.js';
import { systemContext } from '../services/context.js';
import type { SimulatorAdmin } from '../wechat/simulator/admin-client.js';

/** Deterministic so a second run of the demo finds its own data again. */
export const DEMO = {
  tenantName: 'Demo Provider',
  componentAppId: 'wxdemo0000component',
  componentAppSecret: 'demo-component-secret',
  token: 'demotoken',
  encodingAesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  merchants: [
    { appId: 'wx00000000000000a1', label: 'opens after the admin accepts', scenario: { kind: 'accept' }, openAfterMs: 3000 },
    { appId: 'wx00000000000000b2', label: 'rejected: no payment in 90 days', scenario: { kind: 'not_paid' }, openAfterMs: null },
    { appId: 'wx00000000000000c3', label: 'stays SUBMITTED (admin has 24 h)', scenario: { kind: 'accept' }, openAfterMs: null },
  ],
} as const;

export interface SeededDemo {
  tenantId: string;
  apiKey: string;
  appIds: string[];
}

/**
 * The demo tenant and its three merchants, in the gateway and in the WeChat simulator: the
 * simulator pushes its ticket to our webhook (so tokens work), then the three applications are made.
 */
export async function seedDemo(app: App, sim: SimulatorAdmin): Promise<SeededDemo> {
  if (!app.url) throw new Error('the demo needs the API role');
  const { tenants, authorizers, applications } = app.services;
  const existing = (await tenants.list()).find((t) => t.componentAppId === DEMO.componentAppId);
  const tenantId = existing
    ? existing.id
    : (
        await tenants.create({
          name: DEMO.tenantName,
          componentAppId: DEMO.componentAppId,
          componentAppSecret: DEMO.componentAppSecret,
          token: DEMO.token,
          encodingAesKey: DEMO.encodingAesKey,
        })
      ).tenant.id;
  const apiKey = (await tenants.createApiKey(tenantId, 'write')).key;

  await sim.registerComponent({
    componentAppId: DEMO.componentAppId,
    componentAppSecret: DEMO.componentAppSecret,
    token: DEMO.token,
    encodingAesKey: DEMO.encodingAesKey,
    authUrl: `${app.url}/webhooks/wechat/${tenantId}/auth`,
    messageUrlTemplate: `${app.url}/webhooks/wechat/${tenantId}/events/$APPID$`,
  });
  const ticket = await sim.issueTicket({ componentAppId: DEMO.componentAppId });
  if (ticket.push?.status !== 200) throw new Error(`the simulator could not push its ticket to the gateway: ${ticket.push?.error ?? ticket.push?.body}`);

  const ctx = systemContext(tenantId);
  for (const m of DEMO.merchants) {
    const { refreshToken } = await sim.addAuthorizer({ componentAppId: DEMO.componentAppId, appId: m.appId, refreshToken: `demo-refresh-${m.appId}` });
    await sim.setBehaviour({ appId: m.appId, scenario: m.scenario, openAfterMs: m.openAfterMs });
    await authorizers.import(ctx, [{ appId: m.appId, refreshToken, permissionSets: [52] }]);
  }
  const appIds = DEMO.merchants.map((m) => m.appId);
  const current = await applications.list(ctx, { first: 10 });
  if (current.items.length === 0) await applications.applyBatch(ctx, appIds);
  return { tenantId, apiKey, appIds };
}
