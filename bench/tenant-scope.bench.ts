/**
 * Figure 6: what row-level security costs per service call. The same prepared statement (the
 * API key lookup, by primary key) run bare on the pool, and inside a tenant scope as wxlive_app:
 * `begin; set_config(...)` as one message, the statement in the same round trip, COMMIT. In this process (the load is the
 * driver's own work), alternating over three rounds; ops/s and client CPU per op.
 */
import { eq, sql } from 'drizzle-orm';
import { connectPostgres } from '../src/db/client.js';
import { apiKeys } from '../src/db/tables.js';
import { inTenant } from '../src/db/tenant-scope.js';
import { createBenchDatabase, createBenchTenant } from './support/bench-db.js';
import { median } from './support/stats.js';

export interface ScopeRound {
  opsPerSec: number;
  cpuUsPerOp: number;
}

export interface TenantScopeFigures {
  rounds: { bare: ScopeRound; scoped: ScopeRound }[];
  median: { bare: ScopeRound; scoped: ScopeRound };
}

const OPS = 4_000;
const CONCURRENCY = 20;

async function measure(op: () => Promise<unknown>): Promise<ScopeRound> {
  let started = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (started++ < OPS) await op();
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { opsPerSec: OPS / seconds, cpuUsPerOp: (cpu.user + cpu.system) / OPS };
}

export async function runTenantScopeBench(options: { log: (line: string) => void }): Promise<TenantScopeFigures> {
  const bench = await createBenchDatabase(2);
  const app = connectPostgres(bench.url, { max: 10, role: 'wxlive_app' });
  try {
    const tenant = await createBenchTenant(bench, 1);
    const [key] = await bench.database.db.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.tenantId, tenant.id));
    if (!key) throw new Error('bench tenant has no key');
    const lookup = app.db
      .select({ scopes: apiKeys.scopes })
      .from(apiKeys)
      .where(eq(apiKeys.id, sql.placeholder('id')))
      .prepare('bench_scope_lookup');
    // The bare statement runs as wxlive_app outside a scope, so it finds nothing: the same plan and
    // the same round trip, which is the point of comparison. The scoped one must find the key.
    const bare = () => lookup.execute({ id: key.id });
    const scoped = async () => {
      const rows = await inTenant(app.db, tenant.id, () => lookup.execute({ id: key.id }));
      if (rows.length !== 1) throw new Error('the scoped lookup did not see its own key');
    };
    await bare();
    await scoped();
    const rounds: TenantScopeFigures['rounds'] = [];
    for (let round = 1; round <= 3; round++) {
      const b = await measure(bare);
      const s = await measure(scoped);
      rounds.push({ bare: b, scoped: s });
      options.log(
        `scope round ${round}: bare ${Math.round(b.opsPerSec)} ops/s (${Math.round(b.cpuUsPerOp)} µs CPU), scoped ${Math.round(s.opsPerSec)} ops/s (${Math.round(s.cpuUsPerOp)} µs CPU)`,
      );
    }
    const med = (pick: (r: TenantScopeFigures['rounds'][number]) => ScopeRound) => ({
      opsPerSec: median(rounds.map((r) => pick(r).opsPerSec)),
      cpuUsPerOp: median(rounds.map((r) => pick(r).cpuUsPerOp)),
    });
    return { rounds, median: { bare: med((r) => r.bare), scoped: med((r) => r.scoped) } };
  } finally {
    await app.close();
    await bench.drop();
  }
}
