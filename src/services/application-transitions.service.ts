import { and, eq, inArray, lte, sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../db/client.js';
import { type ApplicationStatus, authorizers, liveApplicationEvents, liveApplications } from '../db/tables.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { applicationColumns, type LiveApplicationView, toApplicationView } from './live-application.view.js';
import type { ChangePublisher } from './ports.js';

export const SUBMISSION_TTL_MS = 24 * 3600_000;

export interface AttemptRecord {
  errcode: number | null;
  errmsg: string | null;
  latencyMs: number | null;
}

export type FinalFailure = 'REJECTED' | 'FAILED';

/**
 * The worker's and the webhook's side of an application's life. Every transition is guarded by
 * the current status in its WHERE clause, so a retried job or a duplicate push changes nothing
 * twice; each writes its history event in the same transaction and is published after commit.
 */
export class ApplicationTransitions {
  constructor(private readonly deps: { db: DbOrTx; publisher: ChangePublisher; clock: Clock; logger: Logger }) {}

  async load(tenantId: string, id: string): Promise<LiveApplicationView | undefined> {
    const [row] = await this.deps.db
      .select(applicationColumns)
      .from(liveApplications)
      .where(and(eq(liveApplications.tenantId, tenantId), eq(liveApplications.id, id)));
    return row ? toApplicationView(row) : undefined;
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
    const view = await this.deps.db.transaction(async (tx) => {
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

  /** SUBMITTED applications whose window has passed (a sweep behind the delayed expiry jobs). */
  async dueForExpiry(limit = 500): Promise<{ tenantId: string; id: string }[]> {
    return this.deps.db
      .select({ tenantId: liveApplications.tenantId, id: liveApplications.id })
      .from(liveApplications)
      .where(and(eq(liveApplications.status, 'SUBMITTED'), lte(liveApplications.expiresAt, new Date(this.deps.clock.now()))))
      .limit(limit);
  }

  /**
   * A `wxa_live_apply_event`: the merchant's pending application becomes OPENED; with none
   * pending (opened outside the gateway, or already expired) an OPENED record is created so the
   * console shows it. The authorizer is marked live-open either way.
   */
  async opened(tenantId: string, appId: string, openedAt: Date): Promise<LiveApplicationView> {
    const now = new Date(this.deps.clock.now());
    const view = await this.deps.db.transaction(async (tx) => {
      await tx
        .update(authorizers)
        .set({ liveOpen: true, liveOpenedAt: openedAt, updatedAt: now })
        .where(and(eq(authorizers.tenantId, tenantId), eq(authorizers.appId, appId)));
      const [updated] = await tx
        .update(liveApplications)
        .set({ status: 'OPENED', openedAt, updatedAt: now, errorCode: null })
        .where(and(eq(liveApplications.tenantId, tenantId), eq(liveApplications.appId, appId), inArray(liveApplications.status, ['QUEUED', 'SUBMITTED'])))
        .returning(applicationColumns);
      if (updated) {
        await this.event(tx, tenantId, updated.id, 'STATUS', 'OPENED', null, 'WeChat reported live broadcasting opened.');
        return toApplicationView(updated);
      }
      const [created] = await tx
        .insert(liveApplications)
        .values({ tenantId, appId, status: 'OPENED', openedAt, createdAt: now, updatedAt: now })
        .returning(applicationColumns);
      if (!created) throw new Error('insert of an OPENED record returned no row');
      await this.event(tx, tenantId, created.id, 'STATUS', 'OPENED', null, 'WeChat reported live broadcasting opened with no pending application here.');
      return toApplicationView(created);
    });
    await this.publish([view]);
    return view;
  }

  /** The merchant revoked the provider: its QUEUED applications can no longer be sent. */
  async cancelForRevoked(tenantId: string, appId: string): Promise<LiveApplicationView[]> {
    const now = new Date(this.deps.clock.now());
    const views = await this.deps.db.transaction(async (tx) => {
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

  private async transition(
    tenantId: string,
    id: string,
    from: ApplicationStatus[],
    attempt: AttemptRecord,
    to: { status: ApplicationStatus; set: Partial<typeof liveApplications.$inferInsert>; message: string },
  ): Promise<LiveApplicationView | undefined> {
    const now = new Date(this.deps.clock.now());
    const view = await this.deps.db.transaction(async (tx) => {
      const [row] = await tx
        .update(liveApplications)
        .set({ ...to.set, status: to.status, attempts: sql`${liveApplications.attempts} + 1`, updatedAt: now })
        .where(and(eq(liveApplications.tenantId, tenantId), eq(liveApplications.id, id), inArray(liveApplications.status, from)))
        .returning(applicationColumns);
      if (!row) return undefined;
      await tx.insert(liveApplicationEvents).values({
        applicationId: id,
        tenantId,
        type: 'ATTEMPT',
        status: to.status,
        errcode: attempt.errcode,
        errmsg: attempt.errmsg,
        latencyMs: attempt.latencyMs === null ? null : Math.round(attempt.latencyMs),
        attempt: row.attempts,
        message: to.message,
        createdAt: now,
      });
      return toApplicationView(row);
    });
    if (view) await this.publish([view]);
    return view;
  }

  private async event(
    tx: Tx | DbOrTx,
    tenantId: string,
    applicationId: string,
    type: string,
    status: ApplicationStatus,
    errcode: number | null,
    message: string,
  ): Promise<void> {
    await tx.insert(liveApplicationEvents).values({ applicationId, tenantId, type, status, errcode, message, createdAt: new Date(this.deps.clock.now()) });
  }

  private async publish(views: LiveApplicationView[]): Promise<void> {
    await this.deps.publisher.publish(views).catch((err: unknown) => this.deps.logger.error({ err }, 'publishing application changes failed'));
  }
}
