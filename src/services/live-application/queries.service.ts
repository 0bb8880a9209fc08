import { and, eq, lte, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { type ApplicationStatus, liveApplicationEvents, liveApplications } from '../../db/tables.js';
import { asSystem, inTenant, inTenantStatement } from '../../db/tenant-scope.js';
import type { Clock } from '../../lib/clock.js';
import type { TenantContext } from '../context.js';
import { clampPageSize, decodeCursor, isUuid, type Page } from '../cursor.js';
import { DomainError } from '../errors.js';
import { applicationView, type HistoryEventView, historyView, type LiveApplicationView } from './application.row.js';

export interface ApplicationFilter {
  appId?: string | null | undefined;
  status?: ApplicationStatus[] | ApplicationStatus | null | undefined;
}

/** Which optional conditions a page query has: each combination is its own prepared statement. */
interface PageShape {
  appId: boolean;
  statuses: boolean;
  cursor: boolean;
}

/** Where a read of changed applications stands: the last row's exact updated_at (Postgres's text) and id. */
export interface ChangePosition {
  updatedAt: string;
  id: string;
}

export interface ChangedSinceQuery {
  /** Applications whose last change is at or after this instant (ISO 8601). */
  since: string;
  /** The page after this position (from the previous page's last item). */
  after?: ChangePosition | undefined;
  appId?: string | null | undefined;
  /** One application (its id); not a uuid: nothing. */
  id?: string | null | undefined;
  limit: number;
}

export interface ChangedApplication {
  application: LiveApplicationView;
  position: ChangePosition;
}

/** Which optional conditions a changed-since query has. */
interface ChangedShape {
  appId: boolean;
  id: boolean;
  after: boolean;
}

/**
 * Reads of live applications, each in the caller's tenant scope. The hot statements are built
 * once and prepared on the server (drizzle prepares only statements built with `.prepare()`): no
 * SQL building, parsing or planning per request.
 */
export class LiveApplicationQueries {
  private readonly pageQueries = new Map<string, ReturnType<LiveApplicationQueries['buildPageQuery']>>();
  private readonly countQueries = new Map<string, ReturnType<LiveApplicationQueries['buildCountQuery']>>();
  private historyQuery: ReturnType<LiveApplicationQueries['buildHistoryQuery']> | undefined;
  private getQuery: ReturnType<LiveApplicationQueries['buildGetQuery']> | undefined;
  private readonly changedQueries = new Map<string, ReturnType<LiveApplicationQueries['buildChangedQuery']>>();

  constructor(private readonly deps: { db: Db; clock: Clock }) {}

  async get(ctx: TenantContext, id: string): Promise<LiveApplicationView | undefined> {
    if (!isUuid(id)) return undefined;
    this.getQuery ??= this.buildGetQuery();
    const query = this.getQuery;
    const [row] = await inTenantStatement(this.deps.db, ctx.tenantId, () => query.execute({ tenantId: ctx.tenantId, id }));
    return row;
  }

  /** Newest first, keyset-paginated on (created_at desc, id desc). */
  async list(
    ctx: TenantContext,
    args: { first?: number | null; after?: string | null; filter?: ApplicationFilter | null },
  ): Promise<Page<LiveApplicationView>> {
    const limit = clampPageSize(args.first);
    const cursor = args.after ? decodeCursor(args.after) : undefined;
    if (args.after && !cursor) throw new DomainError('INVALID_INPUT', 'The "after" cursor is not one this API issued.');
    const { appId, statuses } = filterValues(args.filter);
    const shape: PageShape = { appId: Boolean(appId), statuses: statuses.length > 0, cursor: cursor !== undefined };
    const key = `${+shape.appId}${+shape.statuses}${+shape.cursor}`;
    const prepared = preparedFor(this.pageQueries, key, () => this.buildPageQuery(shape));
    const rows = await inTenant(this.deps.db, ctx.tenantId, () =>
      prepared.execute({ tenantId: ctx.tenantId, limit: limit + 1, appId, statuses, cursorAt: cursor?.createdAt.toISOString(), cursorId: cursor?.id }),
    );
    const hasNextPage = rows.length > limit;
    if (hasNextPage) rows.length = limit;
    return { items: rows, hasNextPage };
  }

  /**
   * How many applications the filter matches, exact (count(*) at read time, in the caller's
   * tenant scope): an index range of the tenant (and merchant), reading each matching row once.
   */
  async count(ctx: TenantContext, filter?: ApplicationFilter | null): Promise<number> {
    const { appId, statuses } = filterValues(filter);
    const key = `${+Boolean(appId)}${+(statuses.length > 0)}`;
    const prepared = preparedFor(this.countQueries, key, () => this.buildCountQuery(Boolean(appId), statuses.length > 0));
    const [row] = await inTenant(this.deps.db, ctx.tenantId, () => prepared.execute({ tenantId: ctx.tenantId, appId, statuses }));
    return row?.n ?? 0;
  }

  /**
   * The current state of the applications that changed at or after `since`, oldest change first,
   * keyset-paginated on (updated_at, id) over live_applications_changed_idx: what a subscription
   * replays from Postgres when the change stream no longer holds every change it missed.
   */
  async changedSince(ctx: TenantContext, query: ChangedSinceQuery): Promise<ChangedApplication[]> {
    if (query.id != null && !isUuid(query.id)) return [];
    const shape: ChangedShape = { appId: Boolean(query.appId), id: query.id != null, after: query.after !== undefined };
    const key = `${+shape.appId}${+shape.id}${+shape.after}`;
    const statement = preparedFor(this.changedQueries, key, () => this.buildChangedQuery(shape));
    const rows = await inTenantStatement(this.deps.db, ctx.tenantId, () =>
      statement.execute({
        tenantId: ctx.tenantId,
        since: query.since,
        appId: query.appId,
        id: query.id,
        afterAt: query.after?.updatedAt,
        afterId: query.after?.id,
        limit: query.limit,
      }),
    );
    return rows.map(({ positionAt, ...application }) => ({ application, position: { updatedAt: positionAt, id: application.id } }));
  }

  /** History of many applications in one query (the DataLoader batch function). */
  async historyFor(ctx: TenantContext, ids: readonly string[]): Promise<Map<string, HistoryEventView[]>> {
    const map = new Map<string, HistoryEventView[]>();
    for (const id of ids) map.set(id, []);
    if (ids.length === 0) return map;
    this.historyQuery ??= this.buildHistoryQuery();
    const prepared = this.historyQuery;
    const rows = await inTenant(this.deps.db, ctx.tenantId, () => prepared.execute({ tenantId: ctx.tenantId, ids }));
    for (const { applicationId, ...event } of rows) map.get(applicationId)?.push(event);
    return map;
  }

  /** SUBMITTED applications whose window has passed, of every tenant (a sweep behind the delayed expiry jobs). */
  async dueForExpiry(limit = 500): Promise<{ tenantId: string; id: string }[]> {
    return asSystem(this.deps.db, (db) =>
      db
        .select({ tenantId: liveApplications.tenantId, id: liveApplications.id })
        .from(liveApplications)
        .where(and(eq(liveApplications.status, 'SUBMITTED'), lte(liveApplications.expiresAt, new Date(this.deps.clock.now()))))
        .limit(limit),
    );
  }

  private buildGetQuery() {
    return this.deps.db
      .select(applicationView)
      .from(liveApplications)
      .where(and(eq(liveApplications.tenantId, sql.placeholder('tenantId')), eq(liveApplications.id, sql`${sql.placeholder('id')}::uuid`)))
      .prepare('live_application_get');
  }

  /**
   * Ordered `desc nulls last` like the keyset indexes (live_applications_page_idx and
   * _app_page_idx): a plain `desc` means `nulls first`, which those indexes cannot return, and
   * Postgres then reads and sorts every row of the tenant. The cursor is a row comparison, which
   * the index takes as a range start; the equivalent `a < x or (a = x and b < y)` is only a filter.
   */
  private buildPageQuery(shape: PageShape) {
    const a = liveApplications;
    return this.deps.db
      .select(applicationView)
      .from(a)
      .where(
        and(
          eq(a.tenantId, sql.placeholder('tenantId')),
          shape.appId ? eq(a.appId, sql.placeholder('appId')) : undefined,
          shape.statuses ? sql`${a.status} = any(${sql.placeholder('statuses')}::text[])` : undefined,
          shape.cursor ? sql`(${a.createdAt}, ${a.id}) < (${sql.placeholder('cursorAt')}::timestamptz, ${sql.placeholder('cursorId')}::uuid)` : undefined,
        ),
      )
      .orderBy(sql`${a.createdAt} desc nulls last`, sql`${a.id} desc nulls last`)
      .limit(sql.placeholder('limit'))
      .prepare(`live_applications_page_${+shape.appId}${+shape.statuses}${+shape.cursor}`);
  }

  /** `(updated_at, id) > (...)` is a row comparison: the index takes it as the range start. */
  private buildChangedQuery(shape: ChangedShape) {
    const a = liveApplications;
    return this.deps.db
      .select({ ...applicationView, positionAt: sql<string>`${a.updatedAt}::text` })
      .from(a)
      .where(
        and(
          eq(a.tenantId, sql.placeholder('tenantId')),
          shape.appId ? eq(a.appId, sql.placeholder('appId')) : undefined,
          shape.id ? eq(a.id, sql`${sql.placeholder('id')}::uuid`) : undefined,
          shape.after
            ? sql`(${a.updatedAt}, ${a.id}) > (${sql.placeholder('afterAt')}::timestamptz, ${sql.placeholder('afterId')}::uuid)`
            : sql`${a.updatedAt} >= ${sql.placeholder('since')}::timestamptz`,
        ),
      )
      .orderBy(a.updatedAt, a.id)
      .limit(sql.placeholder('limit'))
      .prepare(`live_applications_changed_${+shape.appId}${+shape.id}${+shape.after}`);
  }

  private buildCountQuery(byAppId: boolean, byStatus: boolean) {
    const a = liveApplications;
    return this.deps.db
      .select({ n: sql<number>`count(*)::int` })
      .from(a)
      .where(
        and(
          eq(a.tenantId, sql.placeholder('tenantId')),
          byAppId ? eq(a.appId, sql.placeholder('appId')) : undefined,
          byStatus ? sql`${a.status} = any(${sql.placeholder('statuses')}::text[])` : undefined,
        ),
      )
      .prepare(`live_applications_count_${+byAppId}${+byStatus}`);
  }

  private buildHistoryQuery() {
    const e = liveApplicationEvents;
    return this.deps.db
      .select(historyView)
      .from(e)
      .where(and(eq(e.tenantId, sql.placeholder('tenantId')), sql`${e.applicationId} = any(${sql.placeholder('ids')}::uuid[])`))
      .orderBy(e.applicationId, e.id)
      .prepare('live_application_history');
  }
}

/** The statement prepared for one shape of a query, built on first use. */
function preparedFor<T>(statements: Map<string, T>, key: string, build: () => T): T {
  let statement = statements.get(key);
  if (!statement) {
    statement = build();
    statements.set(key, statement);
  }
  return statement;
}

function filterValues(filter: ApplicationFilter | null | undefined): { appId: string | null | undefined; statuses: ApplicationStatus[] } {
  const status = filter?.status;
  return { appId: filter?.appId, statuses: status == null ? [] : Array.isArray(status) ? status : [status] };
}
