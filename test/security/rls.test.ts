import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgres, type Database, rowsOf } from '../../src/db/client.js';
import { DayPartitions } from '../../src/db/day-partitions.js';
import { liveApplications } from '../../src/db/tables.js';
import { asSystem, inTenant } from '../../src/db/tenant-scope.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';

// Row-level security (migration 0002) as the app role sees it: a query that forgets its tenant
// filter still sees only the scoped tenant's rows, and nothing at all outside a scope.
let env: TestEnv;
let app: Database;
let a: Awaited<ReturnType<typeof createTenantWithMerchants>>;
let b: Awaited<ReturnType<typeof createTenantWithMerchants>>;

beforeAll(async () => {
  env = await createTestEnv();
  app = connectPostgres(env.databaseUrl, { max: 2, role: 'wxlive_app' });
  a = await createTenantWithMerchants(env.database.db, env.box, 2);
  b = await createTenantWithMerchants(env.database.db, env.box, 1);
  for (const t of [a, b]) {
    await env.database.db.insert(liveApplications).values(t.appIds.map((appId) => ({ tenantId: t.tenant.id, appId })));
  }
});

afterAll(async () => {
  await app?.close();
  await env?.cleanup();
});

const tenantsOf = (rows: { tenant_id: string }[]) => [...new Set(rows.map((r) => r.tenant_id))].sort();
const allApplications = sql`select tenant_id::text as tenant_id from live_applications`;

describe('row-level security for the app role', () => {
  it('connects as wxlive_app, which is not the tables owner', async () => {
    const [row] = rowsOf<{ user: string; owner: string }>(
      await app.db.execute(sql`select current_user as user, (select tableowner from pg_tables where tablename = 'live_applications') as owner`),
    );
    expect(row?.user).toBe('wxlive_app');
    expect(row?.owner).not.toBe('wxlive_app');
  });

  it('inTenant(A): an unfiltered select returns only tenant A rows', async () => {
    const rows = await inTenant(app.db, a.tenant.id, async (tx) => rowsOf<{ tenant_id: string }>(await tx.execute(allApplications)));
    expect(rows).toHaveLength(2);
    expect(tenantsOf(rows)).toEqual([a.tenant.id]);
    const tenants = await inTenant(app.db, a.tenant.id, async (tx) => rowsOf<{ id: string }>(await tx.execute(sql`select id::text as id from tenants`)));
    expect(tenants.map((t) => t.id)).toEqual([a.tenant.id]);
  });

  it('outside any scope the app role sees no rows', async () => {
    for (const table of ['tenants', 'api_keys', 'component_tickets', 'authorizers', 'live_applications', 'live_application_events', 'webhook_inbox']) {
      const [row] = rowsOf<{ n: number }>(await app.db.execute(sql`select count(*)::int as n from ${sql.identifier(table)}`));
      expect({ table, n: row?.n }).toEqual({ table, n: 0 });
    }
  });

  it('the app role reaches the inbox and the delivery log only through their tables: their daily partitions refuse it', async () => {
    for (const table of ['webhook_inbox', 'webhook_deliveries'] as const) {
      const parts = await new DayPartitions(app.db, table).list();
      expect(parts).toContain(`${table}_default`);
      expect(parts.length).toBeGreaterThan(1);
      for (const part of parts) {
        await expect(asSystem(app.db, (tx) => tx.execute(sql`select 1 from ${sql.identifier(part)} limit 1`))).rejects.toMatchObject({
          cause: { code: '42501' },
        });
      }
    }
  });

  it("the partition functions, the app role's only DDL, refuse every table but the two partitioned by day", async () => {
    for (const statement of [
      sql`select wxlive_drop_expired_day_partitions('live_applications', now())`,
      sql`select wxlive_ensure_day_partitions('tenants', current_date, current_date + 1)`,
    ]) {
      await expect(asSystem(app.db, (tx) => tx.execute(statement))).rejects.toMatchObject({
        cause: { code: '22023', message: expect.stringContaining('not a table partitioned by day') },
      });
    }
  });

  it('the tenant setting does not outlive its transaction', async () => {
    await inTenant(app.db, a.tenant.id, async () => {});
    await asSystem(app.db, async () => {});
    const [row] = rowsOf<{ n: number }>(await app.db.execute(sql`select count(*)::int as n from live_applications`));
    expect(row?.n).toBe(0);
  });

  it('asSystem sees every tenant', async () => {
    const rows = await asSystem(app.db, async (tx) => rowsOf<{ tenant_id: string }>(await tx.execute(allApplications)));
    expect(tenantsOf(rows)).toEqual([a.tenant.id, b.tenant.id].sort());
  });

  it('WITH CHECK refuses a row for tenant B written inside inTenant(A)', async () => {
    await expect(
      inTenant(app.db, a.tenant.id, (tx) => tx.insert(liveApplications).values({ tenantId: b.tenant.id, appId: 'wx_rls_intruder' })),
    ).rejects.toMatchObject({ cause: { code: '42501' } });
    await expect(inTenant(app.db, a.tenant.id, (tx) => tx.update(liveApplications).set({ tenantId: b.tenant.id }))).rejects.toMatchObject({
      cause: { code: '42501' },
    });
    const rows = await asSystem(app.db, async (tx) => rowsOf<{ tenant_id: string }>(await tx.execute(allApplications)));
    expect(rows).toHaveLength(3);
  });

  it('an update inside inTenant(A) cannot touch tenant B rows', async () => {
    const updated = await inTenant(app.db, a.tenant.id, (tx) =>
      tx.update(liveApplications).set({ attempts: 7 }).returning({ tenantId: liveApplications.tenantId }),
    );
    expect(tenantsOf(updated.map((r) => ({ tenant_id: r.tenantId })))).toEqual([a.tenant.id]);
    const untouched = await asSystem(app.db, async (tx) =>
      rowsOf<{ n: number }>(await tx.execute(sql`select count(*)::int as n from live_applications where tenant_id = ${b.tenant.id} and attempts = 0`)),
    );
    expect(untouched[0]?.n).toBe(1);
  });
});
