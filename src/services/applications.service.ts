import { and, eq, inArray, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { type ApplicationStatus, liveApplicationEvents, liveApplications } from '../db/tables.js';
import { inTenant } from '../db/tenant-scope.js';
import type { Logger } from '../lib/logger.js';
import { isAppId } from './app-id.js';
import { type Authorizer, AuthorizersService, LIVE_PERMISSION_SET } from './authorizers.service.js';
import type { TenantContext } from './context.js';
import { clampPageSize, decodeCursor, isUuid, type Page } from './cursor.js';
import { DomainError, type UserError, userError } from './errors.js';
import {
  applicationColumns,
  applicationViewColumns,
  type HistoryEventView,
  historyViewColumns,
  type LiveApplicationView,
  toApplicationView,
} from './live-application.view.js';
import type { ApplicationQueue, ChangePublisher } from './ports.js';

export interface ApplyInput {
  appId: string;
  idempotencyKey?: string | null | undefined;
}

export interface ApplyResult {
  application: LiveApplicationView | null;
  userErrors: UserError[];
}

export interface ApplicationFilter {
  appId?: string | null | undefined;
  status?: ApplicationStatus[] | ApplicationStatus | null | undefined;
}

export const MAX_BATCH = 1000;

export interface ApplicationsServiceDeps {
  db: Db;
  authorizers: AuthorizersService;
  queue: ApplicationQueue;
  publisher: ChangePublisher;
  logger: Logger;
}

/** An apply request that passed validation, with its position in the batch. */
interface Candidate {
  index: number;
  appId: string;
  key: string | null;
}

/** Which optional conditions a page query has: each combination is its own prepared statement. */
interface PageShape {
  appId: boolean;
  statuses: boolean;
  cursor: boolean;
}

/**
 * The console-facing side of applications: apply, cancel, read. Tenancy comes from the context,
 * and each call's statements run in one transaction scoped to that tenant (row-level security).
 */
export class ApplicationsService {
  /**
   * The read path's statements, built once and prepared on the server (drizzle prepares only
   * statements built with `.prepare()`): no SQL building, parsing or planning per request.
   */
  private readonly pageQueries = new Map<string, ReturnType<ApplicationsService['buildPageQuery']>>();
  private historyQuery: ReturnType<ApplicationsService['buildHistoryQuery']> | undefined;

  constructor(private readonly deps: ApplicationsServiceDeps) {}

  async apply(ctx: TenantContext, input: ApplyInput): Promise<ApplyResult> {
    const [result] = await this.applyMany(ctx, [input]);
    if (!result) throw new Error('applyMany returned no result');
    return result;
  }

  /**
   * Applies for many merchants in a fixed number of round trips whatever the batch size: one
   * read of authorizers, one of existing applications, one insert, one enqueue, one publish.
   */
  async applyBatch(ctx: TenantContext, appIds: readonly string[]): Promise<ApplyResult[]> {
    if (appIds.length > MAX_BATCH) {
      return [{ application: null, userErrors: [userError('BATCH_TOO_LARGE', `Got ${appIds.length} app ids.`, ['appIds'])] }];
    }
    return this.applyMany(
      ctx,
      appIds.map((appId) => ({ appId })),
    );
  }

  private async applyMany(ctx: TenantContext, inputs: readonly ApplyInput[]): Promise<ApplyResult[]> {
    const results: ApplyResult[] = inputs.map(() => ({ application: null, userErrors: [] }));
    const single = inputs.length === 1;
    const fieldOf = (i: number, name: string) => (single ? ['input', name] : ['appIds', String(i)]);

    const candidates: Candidate[] = [];
    inputs.forEach((input, index) => {
      const appId = input.appId.trim();
      if (!isAppId(appId)) {
        results[index]?.userErrors.push(userError('INVALID_APP_ID', `"${input.appId}" is not an app id.`, fieldOf(index, 'appId')));
      } else {
        candidates.push({ index, appId, key: input.idempotencyKey ?? null });
      }
    });
    if (candidates.length === 0) return results;

    const created = await inTenant(this.deps.db, ctx.tenantId, () => this.storeMany(ctx, candidates, results, fieldOf));
    if (created.length > 0) {
      // The row is the source of truth: if this enqueue fails, the reconciler re-enqueues QUEUED rows.
      await this.deps.queue
        .enqueue(created.map((v) => ({ tenantId: v.tenantId, applicationId: v.id, appId: v.appId })))
        .catch((err: unknown) => this.deps.logger.error({ err, tenantId: ctx.tenantId }, 'enqueue failed; the reconciler will retry'));
      await this.safePublish(created);
    }
    return results;
  }

  /**
   * The database side of an apply, in the tenant's scope (one transaction): one read of
   * authorizers, one of existing applications, one insert of applications and one of their
   * events. Fills `results`; returns the applications it created.
   */
  private async storeMany(
    ctx: TenantContext,
    candidates: readonly Candidate[],
    results: ApplyResult[],
    fieldOf: (i: number, name: string) => string[],
  ): Promise<LiveApplicationView[]> {
    const { db } = this.deps;
    const appIds = [...new Set(candidates.map((c) => c.appId))];
    const keys = candidates.map((c) => c.key).filter((k): k is string => k !== null);
    const [authorizerMap, existing] = await Promise.all([
      this.deps.authorizers.getMany(ctx, appIds),
      db
        .select(applicationColumns)
        .from(liveApplications)
        .where(
          and(
            eq(liveApplications.tenantId, ctx.tenantId),
            or(
              and(inArray(liveApplications.appId, appIds), inArray(liveApplications.status, ['QUEUED', 'SUBMITTED'])),
              keys.length > 0 ? inArray(liveApplications.idempotencyKey, keys) : undefined,
            ),
          ),
        ),
    ]);
    const activeByApp = new Map(existing.filter((r) => r.status === 'QUEUED' || r.status === 'SUBMITTED').map((r) => [r.appId, r]));
    const byKey = new Map(existing.filter((r) => r.idempotencyKey !== null).map((r) => [r.idempotencyKey as string, r]));

    const toInsert = new Map<string, { index: number[]; key: string | null }>();
    for (const c of candidates) {
      const result = results[c.index];
      if (!result) continue;
      const sameKey = c.key !== null ? byKey.get(c.key) : undefined;
      if (sameKey) {
        if (sameKey.appId === c.appId) result.application = toApplicationView(sameKey);
        else result.userErrors.push(userError('IDEMPOTENCY_CONFLICT', `Key "${c.key}" belongs to ${sameKey.appId}.`, fieldOf(c.index, 'idempotencyKey')));
        continue;
      }
      const active = activeByApp.get(c.appId);
      if (active) {
        result.application = toApplicationView(active);
        continue;
      }
      const refusal = refuse(authorizerMap.get(c.appId), c.appId);
      if (refusal) {
        result.userErrors.push({ ...refusal, field: fieldOf(c.index, 'appId') });
        continue;
      }
      const pending = toInsert.get(c.appId);
      if (pending) pending.index.push(c.index);
      else toInsert.set(c.appId, { index: [c.index], key: c.key });
    }
    if (toInsert.size === 0) return [];

    // ON CONFLICT DO NOTHING: a concurrent apply for the same merchant or key wins the race,
    // and the rows that lost are read back below instead of failing the whole batch.
    const inserted = await db
      .insert(liveApplications)
      .values([...toInsert].map(([appId, p]) => ({ tenantId: ctx.tenantId, appId, idempotencyKey: p.key })))
      .onConflictDoNothing()
      .returning(applicationColumns);
    if (inserted.length > 0) {
      await db
        .insert(liveApplicationEvents)
        .values(
          inserted.map((r) => ({ applicationId: r.id, tenantId: ctx.tenantId, type: 'CREATED', status: 'QUEUED' as const, message: 'Accepted by the API.' })),
        );
    }
    const views = inserted.map(toApplicationView);
    const insertedByApp = new Map(views.map((v) => [v.appId, v]));
    const lost = [...toInsert.keys()].filter((appId) => !insertedByApp.has(appId));
    if (lost.length > 0) {
      const winners = await db
        .select(applicationColumns)
        .from(liveApplications)
        .where(
          and(eq(liveApplications.tenantId, ctx.tenantId), inArray(liveApplications.appId, lost), inArray(liveApplications.status, ['QUEUED', 'SUBMITTED'])),
        );
      for (const w of winners) insertedByApp.set(w.appId, toApplicationView(w));
    }
    for (const [appId, p] of toInsert) {
      const view = insertedByApp.get(appId);
      for (const i of p.index) {
        const result = results[i];
        if (!result) continue;
        if (view) result.application = view;
        else result.userErrors.push(userError('INTERNAL_SERVER_ERROR', 'A concurrent request changed this application; read it again.', fieldOf(i, 'appId')));
      }
    }
    return views;
  }

  async cancel(ctx: TenantContext, id: string): Promise<ApplyResult> {
    const current = await this.get(ctx, id);
    if (!current) return { application: null, userErrors: [userError('NOT_FOUND', `No application ${id}.`, ['id'])] };
    if (current.status !== 'QUEUED') {
      return { application: current, userErrors: [userError('NOT_CANCELLABLE', `It is ${current.status}.`, ['id'])] };
    }
    const updated = await inTenant(this.deps.db, ctx.tenantId, async (tx) => {
      const [row] = await tx
        .update(liveApplications)
        .set({ status: 'CANCELLED', errorCode: 'CANCELLED_BY_TENANT', updatedAt: new Date() })
        .where(and(eq(liveApplications.tenantId, ctx.tenantId), eq(liveApplications.id, id), eq(liveApplications.status, 'QUEUED')))
        .returning(applicationColumns);
      if (row) {
        await tx
          .insert(liveApplicationEvents)
          .values({ applicationId: id, tenantId: ctx.tenantId, type: 'STATUS', status: 'CANCELLED', message: 'Cancelled by the tenant.' });
      }
      return row;
    });
    if (!updated) {
      const now = await this.get(ctx, id);
      return { application: now ?? null, userErrors: [userError('NOT_CANCELLABLE', `It became ${now?.status ?? 'unknown'} meanwhile.`, ['id'])] };
    }
    await this.deps.queue
      .remove(id)
      .catch((err: unknown) => this.deps.logger.warn({ err, applicationId: id }, 'job removal failed; the worker skips cancelled rows'));
    const view = toApplicationView(updated);
    await this.safePublish([view]);
    return { application: view, userErrors: [] };
  }

  async get(ctx: TenantContext, id: string): Promise<LiveApplicationView | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await inTenant(this.deps.db, ctx.tenantId, (db) =>
      db
        .select(applicationColumns)
        .from(liveApplications)
        .where(and(eq(liveApplications.tenantId, ctx.tenantId), eq(liveApplications.id, id))),
    );
    return row ? toApplicationView(row) : undefined;
  }

  /** Newest first, keyset-paginated on (created_at desc, id desc). */
  async list(
    ctx: TenantContext,
    args: { first?: number | null; after?: string | null; filter?: ApplicationFilter | null },
  ): Promise<Page<LiveApplicationView>> {
    const limit = clampPageSize(args.first);
    const cursor = args.after ? decodeCursor(args.after) : undefined;
    if (args.after && !cursor) throw new DomainError('INVALID_INPUT', 'The "after" cursor is not one this API issued.');
    const status = args.filter?.status;
    const statuses = status == null ? [] : Array.isArray(status) ? status : [status];
    const appId = args.filter?.appId;
    const shape: PageShape = { appId: Boolean(appId), statuses: statuses.length > 0, cursor: cursor !== undefined };
    const key = `${+shape.appId}${+shape.statuses}${+shape.cursor}`;
    let query = this.pageQueries.get(key);
    if (!query) {
      query = this.buildPageQuery(shape);
      this.pageQueries.set(key, query);
    }
    const prepared = query;
    const rows = await inTenant(this.deps.db, ctx.tenantId, () =>
      prepared.execute({
        tenantId: ctx.tenantId,
        limit: limit + 1,
        appId,
        statuses,
        cursorAt: cursor?.createdAt.toISOString(),
        cursorId: cursor?.id,
      }),
    );
    const hasNextPage = rows.length > limit;
    if (hasNextPage) rows.length = limit;
    return { items: rows, hasNextPage };
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

  /**
   * Ordered `desc nulls last` like the keyset indexes (live_applications_page_idx and
   * _app_page_idx): a plain `desc` means `nulls first`, which those indexes cannot return, and
   * Postgres then reads and sorts every row of the tenant. The cursor is a row comparison, which
   * the index takes as a range start; the equivalent `a < x or (a = x and b < y)` is only a filter.
   */
  private buildPageQuery(shape: PageShape) {
    const a = liveApplications;
    return this.deps.db
      .select(applicationViewColumns)
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

  private buildHistoryQuery() {
    const e = liveApplicationEvents;
    return this.deps.db
      .select(historyViewColumns)
      .from(e)
      .where(and(eq(e.tenantId, sql.placeholder('tenantId')), sql`${e.applicationId} = any(${sql.placeholder('ids')}::uuid[])`))
      .orderBy(e.applicationId, e.id)
      .prepare('live_application_history');
  }

  private async safePublish(views: LiveApplicationView[]): Promise<void> {
    await this.deps.publisher.publish(views).catch((err: unknown) => this.deps.logger.error({ err }, 'publishing application changes failed'));
  }
}

/** Why an apply cannot go ahead for this merchant, or undefined when it can. */
function refuse(authorizer: Authorizer | undefined, appId: string): UserError | undefined {
  if (!authorizer) return userError('AUTHORIZER_NOT_FOUND', `${appId} is not an authorizer of this provider.`);
  if (authorizer.status === 'REVOKED') return userError('AUTHORIZER_REVOKED', `${appId} revoked its authorization.`);
  if (authorizer.liveOpen) return userError('ALREADY_OPEN', `${appId} already has live broadcasting.`);
  if (!authorizer.permissionSets.includes(LIVE_PERMISSION_SET)) return userError('PERMISSION_NOT_GRANTED', `${appId} has not granted set 52.`);
  return undefined;
}
