import { randomBytes } from 'node:crypto';
import { systemClock } from '../../../src/lib/clock.js';
import { AuthorizersService } from '../../../src/services/authorizers.service.js';
import { systemContext } from '../../../src/services/context.js';
import { PgCredentialStore } from '../../../src/services/credential-store.pg.js';
import { TenantsService } from '../../../src/services/tenants.service.js';
import type { SimulatorAdmin } from '../../../src/wechat/simulator/admin-client.js';
import type { TestEnv } from '../../support/test-env.js';

/** `wx` + 16 hex characters, the shape of a real app id. */
export function randomAppId(): string {
  return `wx${randomBytes(8).toString('hex')}`;
}

/** 43 base64 characters: 32 random bytes without the trailing '='. */
export function randomEncodingAesKey(): string {
  return randomBytes(32).toString('base64').slice(0, 43);
}

/** The real Postgres credential store over this test file's own database. */
export function credentialStore(env: TestEnv): PgCredentialStore {
  return new PgCredentialStore(env.database.db, env.box, systemClock);
}

export interface TenantFixture {
  /** The id of the tenant row. */
  tenantId: string;
  componentAppId: string;
  componentAppSecret: string;
  token: string;
  encodingAesKey: string;
  ticket: string;
}

/** A component registered in the simulator and a tenant row for it in Postgres, with its ticket saved. */
export async function createTenant(
  admin: SimulatorAdmin,
  env: TestEnv,
  options: { authUrl?: string; messageUrlTemplate?: string; saveTicket?: boolean } = {},
): Promise<TenantFixture> {
  const fixture = {
    componentAppId: randomAppId(),
    componentAppSecret: randomBytes(16).toString('hex'),
    token: randomBytes(8).toString('hex'),
    encodingAesKey: randomEncodingAesKey(),
  };
  const { ticket } = await admin.registerComponent({
    ...fixture,
    authUrl: options.authUrl ?? null,
    messageUrlTemplate: options.messageUrlTemplate ?? null,
  });
  const { tenant } = await new TenantsService(env.database.db, env.box, systemClock).create({ name: `Provider ${fixture.componentAppId}`, ...fixture });
  if (options.saveTicket ?? true) await credentialStore(env).saveTicket(tenant.id, ticket);
  return { tenantId: tenant.id, ...fixture, ticket };
}

/** An authorizer row in Postgres, as a provider's import creates it. */
export async function importAuthorizer(env: TestEnv, tenantId: string, appId: string, refreshToken: string, permissionSets: number[] = [52]): Promise<void> {
  const [result] = await new AuthorizersService(env.database.db, env.box, systemClock).import(systemContext(tenantId), [
    { appId, refreshToken, permissionSets },
  ]);
  if (!result?.authorizer) throw new Error(`authorizer ${appId} was not imported: ${JSON.stringify(result?.userErrors)}`);
}

/** An authorizer known to both the simulator and Postgres. */
export async function createAuthorizer(
  admin: SimulatorAdmin,
  env: TestEnv,
  tenant: TenantFixture,
  options: { funcInfo?: number[]; rotateRefreshToken?: boolean } = {},
): Promise<string> {
  const appId = randomAppId();
  const { refreshToken } = await admin.addAuthorizer({ componentAppId: tenant.componentAppId, appId, ...options });
  await importAuthorizer(env, tenant.tenantId, appId, refreshToken, options.funcInfo ?? [52]);
  return appId;
}
