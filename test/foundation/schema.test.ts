import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveApplications } from '../../src/db/tables.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env.cleanup());

function pgCode(err: unknown): string | undefined {
  const e = err as { code?: string; cause?: { code?: string } };
  return e.cause?.code ?? e.code;
}

describe('database schema', () => {
  it('applies migrations a second time as a no-op', async () => {
    const before = await env.database.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    await env.database.migrate();
    await env.database.migrate();
    const after = await env.database.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    expect(after).toEqual(before);
    expect((before as unknown as { n: number }[])[0]?.n).toBeGreaterThan(0);
  });

  it('rejects a second active application for the same tenant and merchant', async () => {
    const { tenant, appIds } = await createTenantWithMerchants(env.database.db, env.box, 1);
    const appId = appIds[0] as string;
    await env.database.db.insert(liveApplications).values({ tenantId: tenant.id, appId, status: 'QUEUED' });
    const second = env.database.db.insert(liveApplications).values({ tenantId: tenant.id, appId, status: 'SUBMITTED' });
    await expect(second).rejects.toSatisfy((e) => pgCode(e) === '23505');
    // Finished applications do not count: history can hold many.
    await env.database.db.insert(liveApplications).values({ tenantId: tenant.id, appId, status: 'EXPIRED' });
    await env.database.db.insert(liveApplications).values({ tenantId: tenant.id, appId, status: 'FAILED' });
  });

  it('keeps idempotency keys unique per tenant, not across tenants', async () => {
    const a = await createTenantWithMerchants(env.database.db, env.box, 2);
    const b = await createTenantWithMerchants(env.database.db, env.box, 1);
    await env.database.db.insert(liveApplications).values({ tenantId: a.tenant.id, appId: a.appIds[0] as string, idempotencyKey: 'k-1' });
    const dup = env.database.db.insert(liveApplications).values({ tenantId: a.tenant.id, appId: a.appIds[1] as string, idempotencyKey: 'k-1' });
    await expect(dup).rejects.toSatisfy((e) => pgCode(e) === '23505');
    await env.database.db.insert(liveApplications).values({ tenantId: b.tenant.id, appId: b.appIds[0] as string, idempotencyKey: 'k-1' });
  });

  it('refuses an application of a tenant that does not exist (foreign key)', async () => {
    const orphan = env.database.db.insert(liveApplications).values({ tenantId: '00000000-0000-4000-8000-000000000000', appId: 'wx0123456789abcdef' });
    await expect(orphan).rejects.toSatisfy((e) => pgCode(e) === '23503');
  });
});
