import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenants } from '../../src/db/tables.js';
import { TenantsService } from '../../src/services/tenants.service.js';
import { tenantInput } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { systemClock } from '../../src/lib/clock.js';

let env: TestEnv;
let service: TenantsService;
beforeAll(async () => {
  env = await createTestEnv();
  service = new TenantsService(env.database.db, env.box, systemClock);
});
afterAll(() => env.cleanup());

describe('tenants and API keys', () => {
  it('stores component secrets sealed, never in clear', async () => {
    const input = tenantInput();
    const { tenant } = await service.create(input);
    const [row] = await env.database.db.select().from(tenants);
    const stored = JSON.stringify(row);
    for (const secret of [input.componentAppSecret, input.token, input.encodingAesKey]) expect(stored).not.toContain(secret);
    expect(await service.crypto(tenant.id)).toEqual({
      tenantId: tenant.id,
      componentAppId: input.componentAppId,
      token: input.token,
      encodingAesKey: input.encodingAesKey,
    });
  });

  it('authenticates a key by its hash and stops after revocation', async () => {
    const { tenant, apiKey } = await service.create(tenantInput());
    // A tenant's first key writes, and so reads too.
    expect(await service.authenticate(apiKey.key)).toEqual({ tenantId: tenant.id, scopes: new Set(['read', 'write']), apiKeyId: apiKey.id });
    const read = await service.createApiKey(tenant.id, ['read']);
    expect(await service.authenticate(read.key)).toEqual({ tenantId: tenant.id, scopes: new Set(['read']), apiKeyId: read.id });
    const several = await service.createApiKey(tenant.id, ['token', 'admin', 'token']);
    expect(several.scopes).toEqual(['token', 'admin']);
    expect(await service.authenticate(several.key)).toEqual({ tenantId: tenant.id, scopes: new Set(['token', 'admin']), apiKeyId: several.id });
    await expect(service.createApiKey(tenant.id, [])).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(await service.revokeApiKey(tenant.id, apiKey.prefix)).toBe(1);
    expect(await service.authenticate(apiKey.key)).toBeUndefined();
    expect(await service.authenticate('wxl_nope_nope')).toBeUndefined();
    const keys = await service.listApiKeys(tenant.id);
    expect(JSON.stringify(keys)).not.toContain(apiKey.key);
  });

  it('rejects a malformed EncodingAESKey and bad quota settings with clear messages', async () => {
    await expect(service.create(tenantInput({ encodingAesKey: 'short' }))).rejects.toThrow(/43-character EncodingAESKey/);
    await expect(service.create(tenantInput({ dailyQuotaPerApp: 0 }))).rejects.toThrow(/dailyQuotaPerApp/);
  });

  it('updates quota settings', async () => {
    const { tenant } = await service.create(tenantInput());
    const updated = await service.update(tenant.id, { dailyQuotaPerTenant: 50, callsPerSecond: 3 });
    expect(updated).toMatchObject({ dailyQuotaPerTenant: 50, callsPerSecond: 3, dailyQuotaPerApp: 100 });
  });
});
