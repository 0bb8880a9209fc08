import { and, eq, gte, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { liveApplicationEvents, liveApplications } from '../db/tables.js';
import { inTenant } from '../db/tenant-scope.js';
import type { RecordedCalls } from './quota-limiter.js';

/**
 * applyliveinfo calls recorded as ATTEMPT events in a quota day, for the limiter to seed the
 * counters Redis lost. An attempt that failed before the call (no token) counts too: after a
 * loss, counting a little high is the safe side of WeChat's quota. The merchant's count walks its
 * applications' events by index; the tenant's (only for tenants with a daily limit, once a day)
 * walks every application of the tenant.
 */
export function recordedCallsFromDb(root: Db): RecordedCalls {
  return async ({ tenantId, appId, fromMs, toMs, tenant }) => {
    const [row] = await inTenant(root, tenantId, (db) =>
      db
        .select({
          app: sql<number>`count(*) filter (where ${liveApplications.appId} = ${appId})::int`,
          tenant: sql<number>`count(*)::int`,
        })
        .from(liveApplicationEvents)
        .innerJoin(liveApplications, eq(liveApplications.id, liveApplicationEvents.applicationId))
        .where(
          and(
            eq(liveApplications.tenantId, tenantId),
            tenant ? undefined : eq(liveApplications.appId, appId),
            eq(liveApplicationEvents.type, 'ATTEMPT'),
            gte(liveApplicationEvents.createdAt, new Date(fromMs)),
            lt(liveApplicationEvents.createdAt, new Date(toMs)),
          ),
        ),
    );
    return { app: row?.app ?? 0, tenant: tenant ? (row?.tenant ?? 0) : null };
  };
}
