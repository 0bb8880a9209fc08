import { randomBytes } from 'node:crypto';
import type { Db } from '../../src/db/client.js';
import type { SecretBox } from '../../src/lib/secret-box.js';
import { AuthorizersService } from '../../src/services/authorizers.service.js';
import { systemContext } from '../../src/services/context.js';
import { type CreateTenantInput, TenantsService } from '../../src/services/tenants.service.js';
import { systemClock } from '../../src/lib/clock.js';

export function randomAppId(): string {
  return `wx${randomBytes(8).toString('hex')}`;
}

/** 43 characters, decoding (with "=") to 32 bytes, like an Open Platform EncodingAESKey. */
export function randomEncodingAesKey(): string {
  return randomBytes(32).toString('base64').slice(0, 43);
}

export function tenantInput(overrides: Partial<CreateTenantInput> = {}): CreateTenantInput {
  return {
    name: `Provider ${randomBytes(2).toString('hex')}`,
    componentAppId: randomAppId(),
    componentAppSecret: `secret-${randomBytes(8).toString('hex')}`,
    token: `token${randomBytes(4).toString('hex')}`,
    encodingAesKey: randomEncodingAesKey(),
    ...overrides,
  };
}

/** A tenant, its first (write) API key, and `n` authorized merchants with permission set 52. */
export async function createTenantWithMerchants(db: Db, box: SecretBox, n = 0, overrides: Partial<CreateTenantInput> = {}) {
  const input = tenantInput(overrides);
  const { tenant, apiKey } = await new TenantsService(db, box, systemClock).create(input);
  const appIds = Array.from({ length: n }, randomAppId);
  if (n > 0) {
    await new AuthorizersService(db, box, systemClock).import(
      systemContext(tenant.id),
      appIds.map((appId) => ({ appId, refreshToken: `refresh-${appId}`, permissionSets: [1, 52] })),
    );
  }
  return { tenant, apiKey, input, appIds, ctx: systemContext(tenant.id) };
}
