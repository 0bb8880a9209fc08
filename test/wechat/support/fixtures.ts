import { randomBytes } from 'node:crypto';
import type { SimulatorAdmin } from '../../../src/wechat/simulator/admin-client.js';
import type { MemoryCredentialStore } from './memory-credential-store.js';

/** `wx` + 16 hex characters, the shape of a real app id. */
export function randomAppId(): string {
  return `wx${randomBytes(8).toString('hex')}`;
}

/** 43 base64 characters: 32 random bytes without the trailing '='. */
export function randomEncodingAesKey(): string {
  return randomBytes(32).toString('base64').slice(0, 43);
}

export interface TenantFixture {
  tenantId: string;
  componentAppId: string;
  componentAppSecret: string;
  token: string;
  encodingAesKey: string;
  ticket: string;
}

/** A component registered in the simulator and a tenant for it in the store, with its ticket saved. */
export async function createTenant(
  admin: SimulatorAdmin,
  store: MemoryCredentialStore,
  options: { authUrl?: string; messageUrlTemplate?: string; saveTicket?: boolean } = {},
): Promise<TenantFixture> {
  const fixture = {
    tenantId: `tenant-${randomBytes(4).toString('hex')}`,
    componentAppId: randomAppId(),
    componentAppSecret: randomBytes(16).toString('hex'),
    token: randomBytes(8).toString('hex'),
    encodingAesKey: randomEncodingAesKey(),
  };
  const { ticket } = await admin.registerComponent({
    componentAppId: fixture.componentAppId,
    componentAppSecret: fixture.componentAppSecret,
    token: fixture.token,
    encodingAesKey: fixture.encodingAesKey,
    authUrl: options.authUrl ?? null,
    messageUrlTemplate: options.messageUrlTemplate ?? null,
  });
  store.addTenant(fixture.tenantId, fixture.componentAppId, fixture.componentAppSecret);
  if (options.saveTicket ?? true) await store.saveTicket(fixture.tenantId, ticket);
  return { ...fixture, ticket };
}

/** An authorizer known to both the simulator and the store. */
export async function createAuthorizer(
  admin: SimulatorAdmin,
  store: MemoryCredentialStore,
  tenant: TenantFixture,
  options: { funcInfo?: number[]; rotateRefreshToken?: boolean } = {},
): Promise<string> {
  const appId = randomAppId();
  const { refreshToken } = await admin.addAuthorizer({ componentAppId: tenant.componentAppId, appId, ...options });
  await store.saveAuthorizerRefreshToken(tenant.tenantId, appId, refreshToken);
  return appId;
}
