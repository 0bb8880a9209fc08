import { eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { tenants } from '../db/tables.js';
import { inTenant } from '../db/tenant-scope.js';
import type { TenantLimits } from './quota-limiter.js';

/** A tenant's quota settings, or undefined when the tenant no longer exists. */
export type TenantLimitsSource = (tenantId: string) => Promise<TenantLimits | undefined>;

/**
 * Reads quota settings from Postgres, memoised for `ttlMs` of wall time: every job needs them, and
 * a `tenant update` taking a few seconds to reach the workers is fine.
 */
export function tenantLimitsFromDb(root: Db, ttlMs = 5_000): TenantLimitsSource {
  const cache = new Map<string, { at: number; value: TenantLimits | undefined }>();
  return async (tenantId) => {
    const hit = cache.get(tenantId);
    if (hit && Date.now() - hit.at < ttlMs) return hit.value;
    const [row] = await inTenant(root, tenantId, (db) =>
      db
        .select({
          id: tenants.id,
          dailyQuotaPerApp: tenants.dailyQuotaPerApp,
          dailyQuotaPerTenant: tenants.dailyQuotaPerTenant,
          callsPerSecond: tenants.callsPerSecond,
        })
        .from(tenants)
        .where(eq(tenants.id, tenantId)),
    );
    if (cache.size > 10_000) cache.clear();
    cache.set(tenantId, { at: Date.now(), value: row });
    return row;
  };
}
