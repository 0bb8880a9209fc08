import { and, eq, lte, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { type ApplicationStatus, authorizers, liveApplicationEvents, liveApplications } from '../db/tables.js';
import { asSystem, inTenant } from '../db/tenant-scope.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import {
  APPLICATION_VIEW_RETURNING,
  applicationColumns,
  applicationViewColumns,
  applicationViewOfCte,
  type LiveApplicationView,
  toApplicationView,
} from './live-application.view.js';
import type { ChangePublisher } from './ports.js';

export const SUBMISSION_TTL_MS = 24 * 3600_000;

export interface AttemptRecord {
  errcode: number | null;
  errmsg: string | null;
  latencyMs: number | null;
}

export type FinalFailure = 'REJECTED' | 'FAILED';

/** Columns a worker transition may set besides status, attempts and updated_at. */
interface TransitionSet {
  submittedAt?: Date;
  expiresAt?: Date;
  errcode?: number | null;
  errmsg?: string | null;
  errorCode?: string | null;
}

/** Each settable column with the cast its placeholder takes (values go over the wire as text). */
const SET_COLUMNS: Record<keyof TransitionSet, { column: string; cast: string }> = {
  submittedAt: { column: 'submitted_at', cast: 'timestamptz' },
  expiresAt: { column: 'expires_at', cast: 'timestamptz' },
  errcode: { column: 'errcode', cast: 'int' },
  errmsg: { column: 'errmsg', cast: 'text' },
  errorCode: { column: 'error_code', cast: 'text' },
};

const P = (name: string) => sql.placeholder(name);
const dummy = { done: sql<number>`1`.as('done') };

/**
 * The worker's and the webhook's side of an application's life, each call in its tenant's
 * row-level-security scope (one transaction). Every transition is guarded by
 * the current status in its WHERE clause, so a retried job or a duplicate push changes nothing
 * twice; each writes its history event in the same statement or transaction and is published
 * after commit.
 */
export class ApplicationTransitions {
  /** Changes waiting for the next publish (see `publish`). */
  private batch: { views: LiveApplicationView[]; sent: Promise<void> } | undefined;
  /**
   * Statements run for every job or push, built once and prepared on the server: a transition
   * per set of columns it changes, the open event, the load.
   */
  private readonly transitionQueries = new Map<string, ReturnType<ApplicationTransitions['buildTransition']>>();
  private openedQuery: ReturnType<ApplicationTransitions['buildOpened']> | undefined;
  private loadQuery: ReturnType<ApplicationTransitions['buildLoad']> | undefined;

  constructor(private readonly deps: { db: Db; publisher: ChangePublisher; clock: Clock; logger: Logger }) {}

  async load(tenantId: string, id: string): Promise<LiveApplicationView | undefined> {
    this.loadQuery ??= this.buildLoad();
    const query = this.loadQuery;
    const [row] = await inTenant(this.deps.db, tenantId, () => query.execute({ tenantId, id }));
    return row;
  }

  private buildLoad() {
    return this.deps.db
      .select(applicationViewColumns)
      .from(liveApplications)
      .where(and(eq(liveApplications.tenantId, sql.placeholder('tenantId')), eq(liveApplications.id, sql`${sql.placeholder('id')}::uuid`)))
      .prepare('live_application_load');
  }

  /** errcode 0: WeChat accepted; the merchant's admin has 24 hours. */
  submitted(tenantId: string, id: string, attempt: AttemptRecord): Promise<LiveApplicationView | undefined> {
    const now = new Date(this.deps.clock.now());
    return this.transition(tenantId, id, ['QUEUED'], attempt, {
      status: 'SUBMITTED',
      set: { submittedAt: now, expiresAt: new Date(now.getTime() + SUBMISSION_TTL_MS), errcode: attempt.errcode, errmsg: attempt.errmsg, errorCode: null },
      message: 'WeChat accepted the application; waiting for the merchant admin (24 h).',
    });
  }

  /** A final outcome without retry: REJECTED (errcode 2) or FAILED (permanent, or retries used up). */
  finished(
    tenantId: string,
    id: string,
    status: FinalFailure,
    errorCode: string,
    attempt: AttemptRecord,
    message: string,
  ): Promise<LiveApplicationView | undefined> {
    return this.transition(tenantId, id, ['QUEUED'], attempt, {
      status,
      set: { errcode: attempt.errcode, errmsg: attempt.errmsg, errorCode },
      message,
    });
  }

  /** An attempt that will be retried: the row stays QUEUED with the last error visible. */
  async retrying(tenantId: string, id: string, attempt: AttemptRecord, message: string): Promise<LiveApplicationView | undefined> {
    return this.transition(tenantId, id, ['QUEUED'], attempt, {
      status: 'QUEUED',
      set: { errcode: attempt.errcode, errmsg: attempt.errmsg },
      message,
    });
  }

  /** The 24 h window passed without an open event. */
  async expired(tenantId: string, id: string): Promise<LiveApplicationView | undefined> {
    const now = new Date(this.deps.clock.now());
    const view = await inTenant(this.deps.db, tenantId, async (tx) => {
      const [row] = await tx
        .update(liveApplications)
        .set({ status: 'EXPIRED', errorCode: 'EXPIRED', updatedAt: now })
        .where(
          and(
            eq(liveApplications.tenantId, tenantId),
            eq(liveApplications.id, id),
            eq(liveApplications.status, 'SUBMITTED'),
            lte(liveApplications.expiresAt, now),
          ),
        )
        .returning(applicationColumns);
      if (!row) return undefined;
      await this.event(tx, tenantId, id, 'STATUS', 'EXPIRED', null, 'No open event within 24 hours; apply again if the merchant still wants live.');
      return toApplicationView(row);
    });
    if (view) await this.publish([view]);
    return view;
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

  /**
   * A `wxa_live_apply_event`: the merchant's pending application becomes OPENED; with none
   * pending (opened outside the gateway, or already expired) an OPENED record is created so the
   * console shows it. The authorizer is marked live-open either way. One statement (data-modifying
   * CTEs) instead of a six-round-trip transaction; a concurrent update of the same row waits for
   * its lock and re-checks the status, as it did inside the transaction.
   */
  async opened(tenantId: string, appId: string, openedAt: Date): Promise<LiveApplicationView> {
    this.openedQuery ??= this.buildOpened();
    const query = this.openedQuery;
    const values = { tenantId, appId, openedAt: openedAt.toISOString(), now: new Date(this.deps.clock.now()).toISOString() };
    const [view] = await inTenant(this.deps.db, tenantId, () => query.execute(values));
    if (!view) throw new Error('opening an application returned no row');
    await this.publish([view]);
    return view;
  }

  private buildOpened() {
    const { db } = this.deps;
    const [tenant, app, at, now] = [sql`${P('tenantId')}::uuid`, sql`${P('appId')}::text`, sql`${P('openedAt')}::timestamptz`, sql`${P('now')}::timestamptz`];
    const marked = db.$with('marked', dummy).as(sql`
      update ${authorizers} set "live_open" = true, "live_opened_at" = ${at}, "updated_at" = ${now} where "tenant_id" = ${tenant} and "app_id" = ${app}`);
    const pending = db.$with('pending', applicationViewOfCte).as(sql`
      update ${liveApplications} set "status" = 'OPENED', "opened_at" = ${at}, "updated_at" = ${now}, "error_code" = null
      where "tenant_id" = ${tenant} and "app_id" = ${app} and "status" in ('QUEUED', 'SUBMITTED')
      returning ${APPLICATION_VIEW_RETURNING}`);
    const unsolicited = db.$with('unsolicited', applicationViewOfCte).as(sql`
      insert into ${liveApplications} ("tenant_id", "app_id", "status", "opened_at", "created_at", "updated_at")
      select ${tenant}, ${app}, 'OPENED', ${at}, ${now}, ${now} where not exists (select 1 from "pending")
      returning ${APPLICATION_VIEW_RETURNING}`);
    const events = db.$with('events', dummy).as(sql`
      insert into ${liveApplicationEvents} ("application_id", "tenant_id", "type", "status", "message", "created_at")
      select "id", "tenantId", 'STATUS', 'OPENED', 'WeChat reported live broadcasting opened.', ${now} from "pending"
      union all
      select "id", "tenantId", 'STATUS', 'OPENED', 'WeChat reported live broadcasting opened with no pending application here.', ${now} from "unsolicited"`);
    const result = db.$with('result', applicationViewOfCte).as(sql`select * from "pending" union all select * from "unsolicited"`);
    return db.with(marked, pending, unsolicited, events, result).select().from(result).prepare('live_application_opened');
  }

  /** The merchant revoked the provider: its QUEUED applications can no longer be sent. */
  async cancelForRevoked(tenantId: string, appId: string): Promise<LiveApplicationView[]> {
    const now = new Date(this.deps.clock.now());
    const views = await inTenant(this.deps.db, tenantId, async (tx) => {
      const rows = await tx
        .update(liveApplications)
        .set({ status: 'CANCELLED', errorCode: 'AUTHORIZER_REVOKED', updatedAt: now })
        .where(and(eq(liveApplications.tenantId, tenantId), eq(liveApplications.appId, appId), eq(liveApplications.status, 'QUEUED')))
        .returning(applicationColumns);
      for (const r of rows) await this.event(tx, tenantId, r.id, 'STATUS', 'CANCELLED', null, 'The merchant revoked its authorization.');
      return rows.map(toApplicationView);
    });
    if (views.length > 0) await this.publish(views);
    return views;
  }

  /**
   * Update and history event in one statement (a data-modifying CTE): one round trip where
   * BEGIN, UPDATE, INSERT, COMMIT took four. The event is written only when the guarded update
   * matched, with the attempt number the update produced.
   */
  private async transition(
    tenantId: string,
    id: string,
    from: ApplicationStatus[],
    attempt: AttemptRecord,
    to: { status: ApplicationStatus; set: TransitionSet; message: string },
  ): Promise<LiveApplicationView | undefined> {
    const keys = (Object.keys(to.set) as (keyof TransitionSet)[]).filter((k) => to.set[k] !== undefined).sort();
    const shape = `${from.join('|')}:${keys.join(',')}`;
    let query = this.transitionQueries.get(shape);
    if (!query) {
      query = this.buildTransition(from, keys);
      this.transitionQueries.set(shape, query);
    }
    const values: Record<string, unknown> = {
      tenantId,
      id,
      status: to.status,
      message: to.message,
      errcode: attempt.errcode,
      errmsg: attempt.errmsg,
      latencyMs: attempt.latencyMs === null ? null : Math.round(attempt.latencyMs),
      now: new Date(this.deps.clock.now()).toISOString(),
    };
    for (const key of keys) {
      const value = to.set[key];
      values[`set_${key}`] = value instanceof Date ? value.toISOString() : value;
    }
    const prepared = query;
    const [view] = await inTenant(this.deps.db, tenantId, () => prepared.execute(values));
    if (!view) return undefined;
    await this.publish([view]);
    return view;
  }

  /**
   * Update and history event in one prepared statement (data-modifying CTEs): one round trip
   * where BEGIN, UPDATE, INSERT, COMMIT took four. The event is written only when the guarded
   * update matched, with the attempt number the update produced.
   */
  private buildTransition(from: ApplicationStatus[], keys: (keyof TransitionSet)[]) {
    const { db } = this.deps;
    const now = sql`${P('now')}::timestamptz`;
    const assignments: SQL[] = keys.map((key) => {
      const { column, cast } = SET_COLUMNS[key];
      return sql`${sql.identifier(column)} = ${P(`set_${key}`)}::${sql.raw(cast)}`;
    });
    assignments.push(sql`"status" = ${P('status')}::text`, sql`"attempts" = "attempts" + 1`, sql`"updated_at" = ${now}`);
    const statuses = sql.join(
      from.map((s) => sql`${s}`),
      sql`, `,
    );
    const updated = db.$with('updated', applicationViewOfCte).as(sql`
      update ${liveApplications} set ${sql.join(assignments, sql`, `)}
      where "tenant_id" = ${P('tenantId')}::uuid and "id" = ${P('id')}::uuid and "status" in (${statuses})
      returning ${APPLICATION_VIEW_RETURNING}`);
    const event = db.$with('event', dummy).as(sql`
      insert into ${liveApplicationEvents} ("application_id", "tenant_id", "type", "status", "errcode", "errmsg", "latency_ms", "attempt", "message", "created_at")
      select "id", "tenantId", 'ATTEMPT', ${P('status')}::text, ${P('errcode')}::int, ${P('errmsg')}::text, ${P('latencyMs')}::int, "attempts", ${P('message')}::text, ${now}
      from "updated"`);
    return db
      .with(updated, event)
      .select()
      .from(updated)
      .prepare(`live_application_transition_${from.join('_')}_${keys.join('_')}`);
  }

  private async event(
    tx: Db,
    tenantId: string,
    applicationId: string,
    type: string,
    status: ApplicationStatus,
    errcode: number | null,
    message: string,
  ): Promise<void> {
    await tx.insert(liveApplicationEvents).values({ applicationId, tenantId, type, status, errcode, message, createdAt: new Date(this.deps.clock.now()) });
  }

  /**
   * Publishes after commit. Changes of transitions that finish in the same turn of the event
   * loop (a worker runs many jobs at once) go out together, in one Redis pipeline, in order;
   * each caller's promise settles when its batch is sent.
   */
  private publish(views: LiveApplicationView[]): Promise<void> {
    if (!this.batch) {
      const batch = { views: [] as LiveApplicationView[], sent: Promise.resolve() };
      batch.sent = new Promise<void>((resolve) => {
        setImmediate(() => {
          if (this.batch === batch) this.batch = undefined;
          this.deps.publisher
            .publish(batch.views)
            .catch((err: unknown) => this.deps.logger.error({ err }, 'publishing application changes failed'))
            .finally(resolve);
        });
      });
      this.batch = batch;
    }
    this.batch.views.push(...views);
    return this.batch.sent;
  }
}
