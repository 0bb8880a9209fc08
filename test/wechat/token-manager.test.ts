import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import type { PgCredentialStore } from '../../src/services/credential-store.pg.js';
import { createWechatClient } from '../../src/wechat/client/wechat-client.js';
import { WechatError } from '../../src/wechat/errors.js';
import { SimulatorAdmin } from '../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../src/wechat/simulator/server.js';
import { createTokenManager, type TokenManager } from '../../src/wechat/tokens/token-manager.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { createAuthorizer, createTenant, credentialStore } from './support/fixtures.js';
import { connectRedis, deleteKeys, testPrefix } from './support/redis.js';

const prefix = testPrefix();
const clock = new ManualClock(Date.now());
let env: TestEnv;
let store: PgCredentialStore;
let sim: RunningSimulator;
let admin: SimulatorAdmin;
/** Three independent connections, as three gateway processes would have. */
let connections: Redis[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  store = credentialStore(env);
  sim = await startSimulator({ port: 0, clock });
  admin = new SimulatorAdmin(sim.url);
  connections = [connectRedis(), connectRedis(), connectRedis()];
});

afterAll(async () => {
  await env?.cleanup();
  const [first] = connections;
  if (first) await deleteKeys(first, prefix);
  await Promise.all(connections.map((c) => c.quit()));
  await sim.stop();
});

function managers(): TokenManager[] {
  return connections.map((redis) =>
    createTokenManager({
      redis,
      prefix,
      store,
      clock,
      client: createWechatClient({ baseUrl: sim.url, logger: silentLogger }),
      pollIntervalMs: 10,
    }),
  );
}

/** 50 concurrent calls spread over the managers. */
function fan<T>(all: TokenManager[], call: (manager: TokenManager) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
  return Promise.allSettled(Array.from({ length: 50 }, (_, i) => call(all[i % all.length] as TokenManager)));
}

async function upstreamCalls(endpoint: 'api_component_token' | 'api_authorizer_token', appId: string): Promise<number> {
  return (await admin.counters()).calls[endpoint]?.byAppId[appId] ?? 0;
}

describe('token manager', () => {
  it('refreshes the component token once for 50 concurrent requests across 3 processes', async () => {
    const tenant = await createTenant(admin, env);
    // A slow upstream keeps the lock held while the others arrive, so they really wait.
    await admin.updateSettings({ delaysMs: { api_component_token: 150 } });
    try {
      const results = await fan(managers(), (m) => m.getComponentToken(tenant.tenantId));
      const tokens = new Set(results.map((r) => (r.status === 'fulfilled' ? r.value : r.reason)));
      expect(tokens.size).toBe(1);
      expect([...tokens][0]).toMatch(/^ctk_/);
      expect(await upstreamCalls('api_component_token', tenant.componentAppId)).toBe(1);
    } finally {
      await admin.updateSettings({ delaysMs: {} });
    }
    const [redis] = connections as [Redis];
    const keys = await redis.keys(`${prefix}*`);
    expect(keys).toContain(`${prefix}:{wx:${tenant.componentAppId}}:${tenant.tenantId}:component_token`);
    expect(keys.filter((k) => k.endsWith(':lock'))).toEqual([]);
  });

  it('refreshes an authorizer token once for 50 concurrent requests across 3 processes', async () => {
    const tenant = await createTenant(admin, env);
    const appId = await createAuthorizer(admin, env, tenant);
    await admin.updateSettings({ delaysMs: { api_authorizer_token: 100 } });
    try {
      const results = await fan(managers(), (m) => m.getAuthorizerToken(tenant.tenantId, appId));
      expect(new Set(results.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected'))).size).toBe(1);
      expect(await upstreamCalls('api_authorizer_token', appId)).toBe(1);
      expect(await upstreamCalls('api_component_token', tenant.componentAppId)).toBe(1);
    } finally {
      await admin.updateSettings({ delaysMs: {} });
    }
  });

  it('refreshes a token ahead of its expiry when the clock nears it', async () => {
    const tenant = await createTenant(admin, env);
    const [manager] = managers() as [TokenManager];
    const first = await manager.getComponentToken(tenant.tenantId);

    clock.advance((7200 - 6 * 60) * 1000); // 6 minutes left: still outside the 5-minute window
    expect(await manager.getComponentToken(tenant.tenantId)).toBe(first);
    expect(await upstreamCalls('api_component_token', tenant.componentAppId)).toBe(1);

    clock.advance(2 * 60 * 1000); // 4 minutes left: refresh now, before it expires
    const second = await manager.getComponentToken(tenant.tenantId);
    expect(second).not.toBe(first);
    expect(await upstreamCalls('api_component_token', tenant.componentAppId)).toBe(2);
    // The old token had not expired yet: the refresh was ahead of time, not a reaction to 42001.
    expect(sim.state.checkToken(first, 'component').ok).toBe(true);
  });

  it('fails with COMPONENT_TICKET_MISSING, without calling WeChat, before any ticket arrived', async () => {
    const tenant = await createTenant(admin, env, { saveTicket: false });
    const [manager] = managers() as [TokenManager];
    const error = await manager.getComponentToken(tenant.tenantId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WechatError);
    expect(error).toMatchObject({ code: 'COMPONENT_TICKET_MISSING', errorClass: 'CREDENTIAL', errcode: null });
    expect(await upstreamCalls('api_component_token', tenant.componentAppId)).toBe(0);

    await store.saveTicket(tenant.tenantId, tenant.ticket);
    await expect(manager.getComponentToken(tenant.tenantId)).resolves.toMatch(/^ctk_/);
  });

  it('answers a failed refresh (61006) to every waiter and to callers right after it, with one upstream call', async () => {
    const tenant = await createTenant(admin, env);
    await store.saveTicket(tenant.tenantId, 'ticket@@@outdated');
    await admin.updateSettings({ delaysMs: { api_component_token: 100 } });
    try {
      const results = await fan(managers(), (m) => m.getComponentToken(tenant.tenantId));
      for (const result of results) {
        expect(result.status).toBe('rejected');
        if (result.status === 'rejected') expect(result.reason).toMatchObject({ errcode: 61006, errorClass: 'CREDENTIAL' });
      }
      expect(await upstreamCalls('api_component_token', tenant.componentAppId)).toBe(1);
    } finally {
      await admin.updateSettings({ delaysMs: {} });
    }
    // Callers right after the failure get it too, without another upstream call...
    const [manager] = managers() as [TokenManager];
    await expect(manager.getComponentToken(tenant.tenantId)).rejects.toMatchObject({ errcode: 61006 });
    expect(await upstreamCalls('api_component_token', tenant.componentAppId)).toBe(1);
    // ...until the next ticket push is saved.
    await manager.saveTicket(tenant.tenantId, tenant.ticket);
    await expect(manager.getComponentToken(tenant.tenantId)).resolves.toMatch(/^ctk_/);
    expect(await upstreamCalls('api_component_token', tenant.componentAppId)).toBe(2);
  });

  it('keeps tenants apart: their tickets and tokens never overwrite each other', async () => {
    const a = await createTenant(admin, env);
    const b = await createTenant(admin, env);
    const [manager] = managers() as [TokenManager];
    const [tokenA, tokenB] = await Promise.all([manager.getComponentToken(a.tenantId), manager.getComponentToken(b.tenantId)]);
    expect(tokenA).not.toBe(tokenB);
    expect(sim.state.tokens.get(tokenA)?.componentAppId).toBe(a.componentAppId);
    expect(sim.state.tokens.get(tokenB)?.componentAppId).toBe(b.componentAppId);
    expect(await store.getTicket(a.tenantId)).toBe(a.ticket);
    expect(await store.getTicket(b.tenantId)).toBe(b.ticket);
  });

  it('retries a component call once after 40001 and surfaces a second 40001', async () => {
    const tenant = await createTenant(admin, env);
    const [manager] = managers() as [TokenManager];
    const stale = await manager.getComponentToken(tenant.tenantId);
    await admin.invalidateTokens({ componentAppId: tenant.componentAppId });

    const seen: string[] = [];
    const result = await manager.withComponentToken(tenant.tenantId, async (token) => {
      seen.push(token);
      if (!sim.state.checkToken(token, 'component').ok) {
        throw new WechatError({ code: 'WECHAT_ERRCODE', endpoint: 'api_create_preauthcode', errcode: 40001 });
      }
      return 'done';
    });
    expect(result).toBe('done');
    expect(seen[0]).toBe(stale);
    expect(seen).toHaveLength(2);
    expect(await upstreamCalls('api_component_token', tenant.componentAppId)).toBe(2);

    let attempts = 0;
    const error = await manager
      .withComponentToken(tenant.tenantId, async () => {
        attempts++;
        throw new WechatError({ code: 'WECHAT_ERRCODE', endpoint: 'api_create_preauthcode', errcode: 42001 });
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ errcode: 42001, errorClass: 'PERMANENT', reason: 'REAUTHORIZE_REQUIRED' });
    expect(attempts).toBe(2);
  });

  it('stores a refresh token WeChat rotated', async () => {
    const tenant = await createTenant(admin, env);
    const appId = await createAuthorizer(admin, env, tenant, { rotateRefreshToken: true });
    const before = await store.getAuthorizerRefreshToken(tenant.tenantId, appId);
    const [manager] = managers() as [TokenManager];
    await manager.getAuthorizerToken(tenant.tenantId, appId);
    const after = await store.getAuthorizerRefreshToken(tenant.tenantId, appId);
    expect(after).not.toBe(before);
    expect(after).toBe(sim.state.authorizer(tenant.componentAppId, appId)?.refreshToken);
  });

  it('fails with AUTHORIZER_UNKNOWN for an app id without a stored refresh token', async () => {
    const tenant = await createTenant(admin, env);
    const [manager] = managers() as [TokenManager];
    await expect(manager.getAuthorizerToken(tenant.tenantId, 'wx0000000000000000')).rejects.toMatchObject({
      code: 'AUTHORIZER_UNKNOWN',
      errorClass: 'PERMANENT',
    });
  });
});
