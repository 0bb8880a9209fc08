import { and, eq, inArray, notExists, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { authorizers, liveApplications } from '../db/tables.js';
import { inTenant } from '../db/tenant-scope.js';

/**
 * Whether a merchant is live-open already with no QUEUED or SUBMITTED application: an open event
 * for it then has nothing to change. WeChat sends one per accepted applyliveinfo, and a call
 * whose answer was lost (a timeout, a killed worker) was sent again, so repeats arrive seconds
 * apart, past the inbox's de-duplication by CreateTime.
 */
export function alreadyOpenFromDb(root: Db): (tenantId: string, appId: string) => Promise<boolean> {
  return (tenantId, appId) =>
    inTenant(root, tenantId, async (db) => {
      const pending = db
        .select({ one: sql`1` })
        .from(liveApplications)
        .where(and(eq(liveApplications.tenantId, tenantId), eq(liveApplications.appId, appId), inArray(liveApplications.status, ['QUEUED', 'SUBMITTED'])));
      const [row] = await db
        .select({ id: authorizers.id })
        .from(authorizers)
        .where(and(eq(authorizers.tenantId, tenantId), eq(authorizers.appId, appId), eq(authorizers.liveOpen, true), notExists(pending)))
        .limit(1);
      return row !== undefined;
    });
}
