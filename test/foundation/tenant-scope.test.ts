import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPglite, type Database, type Db, rowsOf } from '../../src/db/client.js';
import { liveApplications } from '../../src/db/tables.js';
import { asSystem, inTenant, inTenantStatement, sharedTenantScope } from '../../src/db/tenant-scope.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';

// How scopes behave as transactions (the policies themselves: test/security/rls.test.ts).
let env: TestEnv;
let app: Db;
let a: Awaited<ReturnType<typeof createTenantWithMerchants>>;
let b: Awaited<ReturnType<typeof createTenantWithMerchants>>;

beforeAll(async () => {
  env = await createTestEnv();
  app = env.appDatabase.db;
  a = await createTenantWithMerchants(env.database.db, env.box, 2);
  b = await createTenantWithMerchants(env.database.db, env.box, 1);
});
afterAll(async () => {
  await env?.cleanup();
});

const txid = async (db: Db) => rowsOf<{ id: string }>(await db.execute(sql`select txid_current()::text as id`))[0]?.id;
const countOf = async (db: Db, tenantId: string) =>
  (await db.select({ id: liveApplications.id }).from(liveApplications).where(eq(liveApplications.tenantId, tenantId))).length;

describe('tenant scopes on postgres-js', () => {
  it('runs a lazy query builder returned from the scope inside it', async () => {
    const rows = await inTenant(app, a.tenant.id, (db) => db.select({ id: liveApplications.id }).from(liveApplications));
    expect(Array.isArray(rows)).toBe(true);
    const tenants = await inTenant(app, a.tenant.id, (db) => db.execute(sql`select current_setting('wxlive.tenant_id') as t`));
    expect(rowsOf<{ t: string }>(tenants)[0]?.t).toBe(a.tenant.id);
  });

  it('is one transaction, which a nested scope of the same tenant joins', async () => {
    const [outer, inner] = await inTenant(app, a.tenant.id, async (db) => [await txid(db), await inTenant(app, a.tenant.id, txid)]);
    expect(inner).toBe(outer);
    expect(await inTenant(app, a.tenant.id, txid)).not.toBe(outer);
  });

  it('refuses a scope for another tenant, or the system scope, inside a tenant scope', async () => {
    await expect(inTenant(app, a.tenant.id, () => inTenant(app, b.tenant.id, txid))).rejects.toThrow(/inside one for tenant/);
    await expect(inTenant(app, a.tenant.id, () => asSystem(app, txid))).rejects.toThrow(/system scope was opened inside/);
  });

  it('rolls back every write of the scope when it throws', async () => {
    const before = await countOf(env.database.db, a.tenant.id);
    await expect(
      inTenant(app, a.tenant.id, async (db) => {
        await db.insert(liveApplications).values({ tenantId: a.tenant.id, appId: 'wx_scope_rollback_1' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await countOf(env.database.db, a.tenant.id)).toBe(before);
  });

  it('makes db.transaction inside a scope a savepoint: its failure undoes only its own writes', async () => {
    const before = await countOf(env.database.db, a.tenant.id);
    await inTenant(app, a.tenant.id, async (db) => {
      await db.insert(liveApplications).values({ tenantId: a.tenant.id, appId: 'wx_scope_kept_0001' });
      await expect(
        db.transaction(async (tx) => {
          await tx.insert(liveApplications).values({ tenantId: a.tenant.id, appId: 'wx_scope_undone_01' });
          throw new Error('inner');
        }),
      ).rejects.toThrow('inner');
    });
    expect(await countOf(env.database.db, a.tenant.id)).toBe(before + 1);
  });

  it('fails a query that outlives its scope instead of running it unscoped', async () => {
    let late: Promise<unknown> | undefined;
    await inTenant(app, a.tenant.id, async (db) => {
      late = new Promise((resolve) => setTimeout(resolve, 20)).then(() => txid(db));
    });
    // drizzle wraps the driver's error: "Failed query: ...", with ours as the cause.
    await expect(late).rejects.toMatchObject({ cause: { message: expect.stringMatching(/after its tenant scope ended/) } });
  });

  it('survives its connection being killed mid-scope: the scope fails, the pool reconnects', async () => {
    await expect(
      inTenant(app, a.tenant.id, async (db) => {
        const [me] = rowsOf<{ pid: number }>(await db.execute(sql`select pg_backend_pid() as pid`));
        await env.database.db.execute(sql`select pg_terminate_backend(${me?.pid})`);
        await new Promise((resolve) => setTimeout(resolve, 50));
        return db.execute(sql`select 1`);
      }),
    ).rejects.toThrow();
    // More scopes than the pool (5) has connections: each of them, the killed one too, serves again.
    const ids = await Promise.all(Array.from({ length: 12 }, () => inTenant(app, a.tenant.id, txid)));
    expect(new Set(ids).size).toBe(12);
  });

  it('plans generically only in the scopes that ask for it, for their transaction only', async () => {
    const mode = async (db: Db) => rowsOf<{ m: string }>(await db.execute(sql`select current_setting('plan_cache_mode') as m`))[0]?.m;
    expect(await inTenant(app, a.tenant.id, mode, { genericPlans: true })).toBe('force_generic_plan');
    expect(await inTenantStatement(app, a.tenant.id, mode, { genericPlans: true })).toBe('force_generic_plan');
    // Every connection of the pool again, after them: the setting ended with its transaction.
    const after = await Promise.all(Array.from({ length: 5 }, () => inTenant(app, a.tenant.id, async (db) => [await mode(db), await txid(db)] as const)));
    expect(after.map(([m]) => m)).toEqual(Array(5).fill('auto'));
    // A scope joining one already running gets that one's transaction, as it is.
    expect(await inTenant(app, a.tenant.id, () => inTenant(app, a.tenant.id, mode, { genericPlans: true }))).toBe('auto');
  });

  it('prepares a parameterized query on its connection (drizzle leaves unnamed queries unprepared), but not a long list', async () => {
    const prepared = await inTenant(app, a.tenant.id, async (db) => {
      await db.execute(sql`select ${1}::int + 41 as probe_short`);
      const list = Array.from({ length: 40 }, (_, i) => sql`${i}::int`);
      await db.execute(sql`select 1 as probe_long_list where 1 in (${sql.join(list, sql`, `)})`);
      return rowsOf<{ statement: string }>(await db.execute(sql`select statement from pg_prepared_statements where statement like ${'%probe_%'}`));
    });
    const statements = prepared.map((p) => p.statement);
    expect(statements.some((s) => s.includes('probe_short'))).toBe(true);
    expect(statements.some((s) => s.includes('probe_long_list'))).toBe(false);
  });

  it('rejects a tenant id that is not a uuid before touching the database', async () => {
    await expect(inTenant(app, "x' or true --", txid)).rejects.toThrow(/is not a tenant id/);
  });

  it('runs scopes of different tenants concurrently, each seeing its own rows', async () => {
    const counts = await Promise.all(
      Array.from({ length: 12 }, (_, i) => {
        const t = i % 2 === 0 ? a : b;
        return inTenant(app, t.tenant.id, async (db) => ({ tenant: t.tenant.id, n: (await db.select().from(liveApplications)).length }));
      }),
    );
    const expectedA = await countOf(env.database.db, a.tenant.id);
    const expectedB = await countOf(env.database.db, b.tenant.id);
    for (const c of counts) expect(c.n).toBe(c.tenant === a.tenant.id ? expectedA : expectedB);
  });
});

describe('a single-statement scope (inTenantStatement: begin, the statement and COMMIT in one round trip)', () => {
  it('fails, and does not hang, when its connection is killed while COMMIT waits behind a statement being described', async () => {
    // A parameterized statement new to the connection is described first, so postgres-js holds
    // the COMMIT in the reserved connection's own queue; porsager/postgres#1186 left it pending forever.
    const marker = `wxlive_kill_${Date.now()}`;
    const running = inTenantStatement(app, a.tenant.id, (db) => db.execute(sql`select pg_sleep(${5}) as ${sql.raw(marker)}`));
    const outcome = running.then(
      () => 'committed',
      (err: unknown) => err,
    );
    await expectEventually(async () => {
      const killed = rowsOf<{ ok: boolean }>(
        await env.database.db.execute(
          sql`select pg_terminate_backend(pid) as ok from pg_stat_activity where query like ${`%${marker}%`} and pid <> pg_backend_pid()`,
        ),
      );
      expect(killed).toHaveLength(1);
    });
    expect(await outcome).toBeInstanceOf(Error);
    // The pool serves again.
    expect(await inTenantStatement(app, a.tenant.id, txid)).toMatch(/^\d+$/);
  });

  it('runs its statement in a transaction that sees only its tenant, and commits its write', async () => {
    const seen = await inTenantStatement(app, a.tenant.id, (db) => db.execute(sql`select current_setting('wxlive.tenant_id') as t, txid_current()::text as x`));
    expect(rowsOf<{ t: string }>(seen)[0]?.t).toBe(a.tenant.id);
    // A forgotten filter returns nothing of another tenant.
    const rows = await inTenantStatement(app, b.tenant.id, (db) => db.select({ tenantId: liveApplications.tenantId }).from(liveApplications));
    expect(rows.every((r) => r.tenantId === b.tenant.id)).toBe(true);
    const before = await countOf(env.database.db, a.tenant.id);
    await inTenantStatement(app, a.tenant.id, (db) => db.insert(liveApplications).values({ tenantId: a.tenant.id, appId: 'wx_single_commit_1' }));
    expect(await countOf(env.database.db, a.tenant.id)).toBe(before + 1);
  });

  it('fails a failed statement, writes nothing, and leaves its connection usable', async () => {
    const before = await countOf(env.database.db, a.tenant.id);
    // Another tenant's row: the policy's WITH CHECK refuses it.
    await expect(
      inTenantStatement(app, a.tenant.id, (db) => db.insert(liveApplications).values({ tenantId: b.tenant.id, appId: 'wx_single_refused_1' })),
    ).rejects.toThrow();
    expect(await countOf(env.database.db, a.tenant.id)).toBe(before);
    for (let i = 0; i < 12; i++) {
      const rows = await inTenantStatement(app, a.tenant.id, (db) => db.execute(sql`select current_setting('wxlive.tenant_id', true) as t`));
      expect(rowsOf<{ t: string }>(rows)[0]?.t).toBe(a.tenant.id);
    }
  });

  it('refuses a second statement, and joins a scope it runs in', async () => {
    const refused = await inTenantStatement(app, a.tenant.id, async (db) => {
      await txid(db);
      return txid(db);
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    // drizzle wraps the driver's error ("Failed query: ...", the cause).
    expect(String((refused as { cause?: unknown } | undefined)?.cause)).toMatch(/second statement/);
    const [outer, inner] = await inTenant(app, a.tenant.id, async (db) => [await txid(db), await inTenantStatement(app, a.tenant.id, txid)]);
    expect(inner).toBe(outer);
  });
});

describe('a shared tenant scope (one transaction per unit of work)', () => {
  const open = async () =>
    rowsOf<{ n: number }>(
      await env.database.db.execute(
        sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'`,
      ),
    )[0]?.n ?? 0;

  it('joins every scope of its tenant into one transaction, and commits it at the end', async () => {
    const before = await countOf(env.database.db, a.tenant.id);
    const [first, second] = await sharedTenantScope(app, a.tenant.id, async () => {
      const one = await inTenant(app, a.tenant.id, txid);
      await inTenant(app, a.tenant.id, (db) => db.insert(liveApplications).values({ tenantId: a.tenant.id, appId: 'wx_shared_commit_1' }));
      return [one, await inTenant(app, a.tenant.id, txid)];
    });
    expect(second).toBe(first);
    expect(await countOf(env.database.db, a.tenant.id)).toBe(before + 1);
    // The unit is over: a scope after it is a transaction of its own.
    expect(await inTenant(app, a.tenant.id, txid)).not.toBe(first);
  });

  it('keeps the backstop: the shared transaction sees only its tenant, a forgotten filter returns nothing of another', async () => {
    const rows = await sharedTenantScope(app, a.tenant.id, () => inTenant(app, a.tenant.id, (db) => db.select().from(liveApplications)));
    expect(rows.length).toBe(await countOf(env.database.db, a.tenant.id));
    expect(rows.every((r) => r.tenantId === a.tenant.id)).toBe(true);
  });

  it('runs the system scope and other tenants inside it as scopes of their own, not nested in it', async () => {
    const ids = await sharedTenantScope(app, a.tenant.id, async () => {
      const mine = await inTenant(app, a.tenant.id, txid);
      const system = await asSystem(app, txid);
      const other = await inTenant(app, b.tenant.id, async (db) => ({ id: await txid(db), n: (await db.select().from(liveApplications)).length }));
      return { mine, system, other, again: await inTenant(app, a.tenant.id, txid) };
    });
    expect(ids.again).toBe(ids.mine);
    expect(ids.system).not.toBe(ids.mine);
    expect(ids.other.id).not.toBe(ids.mine);
    expect(ids.other.n).toBe(await countOf(env.database.db, b.tenant.id));
  });

  it('opens nothing when the unit makes no query, and leaves no transaction open after it', async () => {
    expect(await sharedTenantScope(app, a.tenant.id, async () => 42)).toBe(42);
    await sharedTenantScope(app, a.tenant.id, () => inTenant(app, a.tenant.id, txid));
    expect(await open()).toBe(0);
  });

  it('after a failed call, rolls the shared transaction back and runs later calls in scopes of their own', async () => {
    const before = await countOf(env.database.db, a.tenant.id);
    const result = await sharedTenantScope(app, a.tenant.id, async () => {
      const first = await inTenant(app, a.tenant.id, async (db) => {
        await db.insert(liveApplications).values({ tenantId: a.tenant.id, appId: 'wx_shared_undone_1' });
        return txid(db);
      });
      await expect(inTenant(app, a.tenant.id, (db) => db.execute(sql`select 1/0`))).rejects.toThrow();
      // Not "current transaction is aborted": a transaction of its own.
      return { first, later: await inTenant(app, a.tenant.id, txid) };
    });
    expect(result.later).not.toBe(result.first);
    expect(await countOf(env.database.db, a.tenant.id)).toBe(before);
    expect(await open()).toBe(0);
  });

  it('rolls back when the unit itself throws', async () => {
    const before = await countOf(env.database.db, a.tenant.id);
    await expect(
      sharedTenantScope(app, a.tenant.id, async () => {
        await inTenant(app, a.tenant.id, (db) => db.insert(liveApplications).values({ tenantId: a.tenant.id, appId: 'wx_shared_undone_2' }));
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await countOf(env.database.db, a.tenant.id)).toBe(before);
  });

  it('rejects a tenant id that is not a uuid', async () => {
    await expect(sharedTenantScope(app, 'nope', async () => 1)).rejects.toThrow(/is not a tenant id/);
  });
});

describe('tenant scopes on PGlite (the demo)', () => {
  let dir: string;
  let pglite: Database;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wxlive-scope-'));
    pglite = await connectPglite(dir);
    await pglite.migrate();
  }, 60_000);
  afterAll(async () => {
    await pglite?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs each scope as one transaction with its setting, and nested transactions inside it', async () => {
    const { tenant } = await createTenantWithMerchants(pglite.db, env.box, 1);
    const seen = await inTenant(pglite.db, tenant.id, async (db) => {
      await db.transaction(async (tx) => {
        await tx.insert(liveApplications).values({ tenantId: tenant.id, appId: 'wx_pglite_scope_01' });
      });
      return rowsOf<{ t: string }>(await db.execute(sql`select current_setting('wxlive.tenant_id') as t`))[0]?.t;
    });
    expect(seen).toBe(tenant.id);
    await expect(
      inTenant(pglite.db, tenant.id, async (db) => {
        await db.insert(liveApplications).values({ tenantId: tenant.id, appId: 'wx_pglite_scope_02' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await countOf(pglite.db, tenant.id)).toBe(1);
  });
});
