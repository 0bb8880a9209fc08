import { and, eq, gte, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { liveApplicationEvents, liveApplications } from '../db/tables.js';
import { inTenant } from '../db/tenant-scope.js';
import type { RecordedCalls } from './quota-limiter.js';

/**
 * applyliveinfo calls recorded as ATTEMPT events in a quota day, per appid of the tenant, for the
 * limiter to seed the counters Redis lost (or has not had yet: the tenant's first call of the day).
 * An attempt that failed before the call (no token) counts too: after a loss, counting a little
 * high is the safe side of WeChat's quota. One grouped read of the tenant's day, once per tenant
 * and quota day (the limiter marks the day seeded), instead of one per appid.
 */
export function recordedCallsFromDb(root: Db): RecordedCalls {
  return async ({ tenantId, fromMs, toMs }) => {
    const rows = await inTenant(root, tenantId, (db) =>
      db
        .select({ appId: liveApplications.appId, calls: sql<number>`count(*)::int` })
        .from(liveApplicationEvents)
        .innerJoin(liveApplications, eq(liveApplications.id, liveApplicationEvents.applicationId))
        .where(
          and(
            eq(liveApplications.tenantId, tenantId),
            eq(liveApplicationEvents.type, 'ATTEMPT'),
            gte(liveApplicationEvents.createdAt, new Date(fromMs)),
            lt(liveApplicationEvents.createdAt, new Date(toMs)),
          ),
        )
        .groupBy(liveApplications.appId),
    );
    const byApp = new Map(rows.map((r) => [r.appId, Number(r.calls)]));
    return { byApp, tenant: rows.reduce((sum, r) => sum + Number(r.calls), 0) };
  };
}
