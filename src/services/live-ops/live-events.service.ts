import { and, asc, eq, gt, lt, max } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { liveEvents } from '../../db/tables.js';
import { inTenant } from '../../db/tenant-scope.js';
import { isAppId } from '../app-id.js';
import type { TenantContext } from '../context.js';
import { DomainError } from '../errors.js';
import type { LiveEventType, LiveEventView } from './live-mirror.js';

/** A live_events id as the API hands it out (the `cursor` of `liveRoomUpdated` and of the webhooks' data). */
const CURSOR = /^\d{1,18}$/;

export interface LiveEventFilter {
  appId?: string | null | undefined;
  after?: string | null | undefined;
}

/** The caller's room and goods events as they were committed: what `liveRoomUpdated` replays from `after`. */
export class LiveEventsService {
  constructor(private readonly db: Db) {}

  /** Refuses a filter before a subscription starts: a cursor this API never issued, an app id that is none. */
  check(filter: LiveEventFilter): void {
    if (filter.after && !CURSOR.test(filter.after)) throw new DomainError('INVALID_INPUT', 'The "after" cursor is not one liveRoomUpdated issued.');
    if (filter.appId && !isAppId(filter.appId)) throw new DomainError('INVALID_APP_ID', `"${filter.appId}" is not an app id.`);
  }

  /** The tenant's events after `after` (exclusive), oldest first, at most `count`. */
  async after(ctx: TenantContext, after: string, count: number): Promise<LiveEventView[]> {
    const rows = await inTenant(this.db, ctx.tenantId, (db) =>
      db
        .select()
        .from(liveEvents)
        .where(and(eq(liveEvents.tenantId, ctx.tenantId), gt(liveEvents.id, Number(after))))
        .orderBy(asc(liveEvents.id))
        .limit(count),
    );
    return rows.map((r) => ({ ...r, cursor: String(r.id), type: r.type as LiveEventType }));
  }

  /** The cursor of the tenant's last event created before `at` ('0' when none is kept): where a replay of what came since starts. */
  async cursorBefore(ctx: TenantContext, at: Date): Promise<string> {
    const [row] = await inTenant(this.db, ctx.tenantId, (db) =>
      db
        .select({ id: max(liveEvents.id) })
        .from(liveEvents)
        .where(and(eq(liveEvents.tenantId, ctx.tenantId), lt(liveEvents.createdAt, at))),
    );
    return String(row?.id ?? 0);
  }
}
