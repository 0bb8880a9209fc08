import { and, eq, inArray, or } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { liveApplications } from '../../db/tables.js';
import { inTenant, inTenantStatement } from '../../db/tenant-scope.js';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { isAppId } from '../app-id.js';
import { type Authorizer, type AuthorizersService, LIVE_PERMISSION_SET } from '../authorizers.service.js';
import type { TenantContext } from '../context.js';
import { isUuid } from '../cursor.js';
import { type UserError, userError } from '../errors.js';
import type { ApplicationQueue, ChangePublisher } from '../ports.js';
import { applicationView, type LiveApplicationView } from './application.row.js';
import { ACTIVE, type GivenErrorCode, SUBMISSION_TTL_MS, TRANSITIONS, type TransitionName } from './lifecycle.js';
import { type Changed, type PreparedTransition, prepareCreate, prepareTransition, type TransitionValues } from './transition.statement.js';

export interface ApplyInput {
  appId: string;
  idempotencyKey?: string | null | undefined;
}

export interface ApplyResult {
  application: LiveApplicationView | null;
  userErrors: UserError[];
}

/** WeChat's answer to one call, as the history records it. */
export interface AttemptRecord {
  errcode: number | null;
  errmsg: string | null;
  latencyMs: number | null;
}

/** The codes an application can end with after a call: REJECTED for NOT_PAID_90_DAYS, FAILED for the rest. */
export type EndCode = 'NOT_PAID_90_DAYS' | GivenErrorCode<'fail'>;

export const MAX_BATCH = 1000;

export interface LifecycleDeps {
  db: Db;
  authorizers: Pick<AuthorizersService, 'getMany'>;
  queue: ApplicationQueue;
  publisher: ChangePublisher;
  clock: Clock;
  logger: Logger;
}

/** An apply request that passed validation, with its position in the batch. */
interface Candidate {
  index: number;
  appId: string;
  key: string | null;
}

/**
 * Every change of a live application, for every caller: the console (apply, cancel), the worker
 * (submit, end, retry, wait, hold, expire) and the webhook (open, cancel on revoke). Each takes
 * the caller's TenantContext first (workers and webhooks build a system context naming the
 * tenant) and runs in that tenant's row-level-security scope. Each transition is one statement
 * (transition.statement.ts) that enforces its guard from the table in lifecycle.ts, writes its
 * history event and its change-feed outbox row; the change is published after commit, and the
 * outbox relay publishes it even if this process dies first.
 */
export class LiveApplicationLifecycle {
  private readonly statements = new Map<TransitionName, PreparedTransition>();
  private createStatement: ReturnType<typeof prepareCreate> | undefined;

  constructor(private readonly deps: LifecycleDeps) {}

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

  /** Cancels a QUEUED application (the tenant changed its mind) and removes its job. */
  async cancel(ctx: TenantContext, id: string): Promise<ApplyResult> {
    const notFound = { application: null, userErrors: [userError('NOT_FOUND', `No application ${id}.`, ['id'])] };
    if (!isUuid(id)) return notFound;
    const [view] = await this.run(ctx, 'cancel', id, { message: TRANSITIONS.cancel.message });
    if (!view) {
      const current = await this.read(ctx, id);
      if (!current) return notFound;
      return { application: current, userErrors: [userError('NOT_CANCELLABLE', `It is ${current.status}.`, ['id'])] };
    }
    await this.deps.queue
      .remove(id)
      .catch((err: unknown) => this.deps.logger.warn({ err, applicationId: id }, 'job removal failed; the worker skips cancelled rows'));
    return { application: view, userErrors: [] };
  }

  /** errcode 0: WeChat accepted; the merchant's admin has 24 hours. */
  async submit(ctx: TenantContext, id: string, attempt: AttemptRecord): Promise<LiveApplicationView | undefined> {
    const now = new Date(this.deps.clock.now());
    const [view] = await this.run(ctx, 'submit', id, {
      ...attemptValues(attempt),
      message: TRANSITIONS.submit.message,
      stamps: { submittedAt: now, expiresAt: new Date(now.getTime() + SUBMISSION_TTL_MS) },
    });
    return view;
  }

  /** A final outcome without retry: REJECTED (not paid in 90 days) or FAILED with its code. */
  async end(ctx: TenantContext, id: string, code: EndCode, attempt: AttemptRecord, message?: string): Promise<LiveApplicationView | undefined> {
    if (code === 'NOT_PAID_90_DAYS') {
      const [view] = await this.run(ctx, 'reject', id, { ...attemptValues(attempt), message: message ?? TRANSITIONS.reject.message });
      return view;
    }
    const [view] = await this.run(ctx, 'fail', id, { ...attemptValues(attempt), errorCode: code, message: message ?? TRANSITIONS.fail.message });
    return view;
  }

  /** A transient failure the job retries: the row stays QUEUED with the last error visible. */
  async retry(ctx: TenantContext, id: string, attempt: AttemptRecord, message: string): Promise<LiveApplicationView | undefined> {
    const [view] = await this.run(ctx, 'retry', id, { ...attemptValues(attempt), message });
    return view;
  }

  /** WeChat said "not now" (quota, ticket): the row stays QUEUED and says why. */
  async wait(ctx: TenantContext, id: string, code: GivenErrorCode<'wait'>, attempt: AttemptRecord, message: string): Promise<LiveApplicationView | undefined> {
    const [view] = await this.run(ctx, 'wait', id, { ...attemptValues(attempt), errorCode: code, message });
    return view;
  }

  /** Held without a call while live grants are paused; noted once per pause (undefined when already noted). */
  async hold(ctx: TenantContext, id: string): Promise<LiveApplicationView | undefined> {
    const [view] = await this.run(ctx, 'hold', id, { message: TRANSITIONS.hold.message });
    return view;
  }

  /**
   * A `wxa_live_apply_event`: the merchant's pending application becomes OPENED; with none
   * pending (opened outside the gateway, or after it expired) an OPENED record is created so the
   * console shows it. The authorizer is marked live-open either way. The same event again (its
   * push processed a second time after a crash) changes nothing: undefined.
   */
  async open(ctx: TenantContext, appId: string, openedAt: Date): Promise<LiveApplicationView | undefined> {
    const [view] = await this.run(ctx, 'open', appId, { message: TRANSITIONS.open.message, stamps: { openedAt } });
    return view;
  }

  /** The 24 h window passed without an open event (undefined when it was not due, or not SUBMITTED). */
  async expire(ctx: TenantContext, id: string): Promise<LiveApplicationView | undefined> {
    const [view] = await this.run(ctx, 'expire', id, { message: TRANSITIONS.expire.message });
    return view;
  }

  /** The merchant revoked the provider: its QUEUED applications can no longer be sent. */
  cancelForRevoked(ctx: TenantContext, appId: string): Promise<LiveApplicationView[]> {
    return this.run(ctx, 'revokeCancel', appId, { message: TRANSITIONS.revokeCancel.message });
  }

  /** The one path of every transition: its statement in the tenant's scope, then publication. */
  private async run(
    ctx: TenantContext,
    name: Exclude<TransitionName, 'create'>,
    target: string,
    values: Omit<TransitionValues, 'tenantId' | 'target' | 'now'>,
  ): Promise<LiveApplicationView[]> {
    let statement = this.statements.get(name);
    if (!statement) {
      statement = prepareTransition(this.deps.db, name);
      this.statements.set(name, statement);
    }
    const prepared = statement;
    const now = new Date(this.deps.clock.now());
    // One statement: its scope's COMMIT goes with it (one round trip).
    const changed = await inTenantStatement(this.deps.db, ctx.tenantId, () => prepared.execute({ ...values, tenantId: ctx.tenantId, target, now }));
    return this.published(changed);
  }

  /** Publishes committed changes (never throws: the outbox relay sends what this could not) and returns them as views. */
  private async published(changed: readonly Changed[]): Promise<LiveApplicationView[]> {
    if (changed.length === 0) return [];
    const views = changed.map(({ outboxId: _, ...view }) => view);
    await this.deps.publisher.publish(changed.map((c, i) => ({ outboxId: c.outboxId, application: views[i] as LiveApplicationView })));
    return views;
  }

  private async read(ctx: TenantContext, id: string): Promise<LiveApplicationView | undefined> {
    const [row] = await inTenant(this.deps.db, ctx.tenantId, (db) =>
      db
        .select(applicationView)
        .from(liveApplications)
        .where(and(eq(liveApplications.tenantId, ctx.tenantId), eq(liveApplications.id, id))),
    );
    return row;
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

    const changed = await inTenant(this.deps.db, ctx.tenantId, () => this.storeMany(ctx, candidates, results, fieldOf));
    if (changed.length > 0) {
      // The row is the source of truth: if this enqueue fails, the reconciler re-enqueues QUEUED rows.
      await this.deps.queue
        .enqueue(changed.map((v) => ({ tenantId: v.tenantId, applicationId: v.id, appId: v.appId })))
        .catch((err: unknown) => this.deps.logger.error({ err, tenantId: ctx.tenantId }, 'enqueue failed; the reconciler will retry'));
      await this.published(changed);
    }
    return results;
  }

  /**
   * The database side of an apply, in the tenant's scope (one transaction): one read of
   * authorizers, one of existing applications, one statement creating the applications (with
   * their events and outbox rows). Fills `results`; returns the applications it created.
   */
  private async storeMany(
    ctx: TenantContext,
    candidates: readonly Candidate[],
    results: ApplyResult[],
    fieldOf: (i: number, name: string) => string[],
  ): Promise<Changed[]> {
    const { db } = this.deps;
    const appIds = [...new Set(candidates.map((c) => c.appId))];
    const keys = candidates.map((c) => c.key).filter((k): k is string => k !== null);
    const [authorizerMap, existing] = await Promise.all([
      this.deps.authorizers.getMany(ctx, appIds),
      db
        .select(applicationView)
        .from(liveApplications)
        .where(
          and(
            eq(liveApplications.tenantId, ctx.tenantId),
            or(
              and(inArray(liveApplications.appId, appIds), inArray(liveApplications.status, [...ACTIVE])),
              keys.length > 0 ? inArray(liveApplications.idempotencyKey, keys) : undefined,
            ),
          ),
        ),
    ]);
    const activeByApp = new Map(existing.filter((r) => ACTIVE.includes(r.status)).map((r) => [r.appId, r]));
    const byKey = new Map(existing.filter((r) => r.idempotencyKey !== null).map((r) => [r.idempotencyKey as string, r]));

    const toInsert = new Map<string, { index: number[]; key: string | null }>();
    for (const c of candidates) {
      const result = results[c.index];
      if (!result) continue;
      const sameKey = c.key !== null ? byKey.get(c.key) : undefined;
      if (sameKey) {
        if (sameKey.appId === c.appId) result.application = sameKey;
        else result.userErrors.push(userError('IDEMPOTENCY_CONFLICT', `Key "${c.key}" belongs to ${sameKey.appId}.`, fieldOf(c.index, 'idempotencyKey')));
        continue;
      }
      const active = activeByApp.get(c.appId);
      if (active) {
        result.application = active;
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

    this.createStatement ??= prepareCreate(db);
    const inserted = await this.createStatement.execute({
      tenantId: ctx.tenantId,
      now: new Date(this.deps.clock.now()),
      appIds: [...toInsert.keys()],
      keys: [...toInsert.values()].map((p) => p.key),
    });
    const byApp = new Map<string, LiveApplicationView>(inserted.map(({ outboxId: _, ...v }) => [v.appId, v]));
    const lost = [...toInsert.keys()].filter((appId) => !byApp.has(appId));
    if (lost.length > 0) {
      const winners = await db
        .select(applicationView)
        .from(liveApplications)
        .where(and(eq(liveApplications.tenantId, ctx.tenantId), inArray(liveApplications.appId, lost), inArray(liveApplications.status, [...ACTIVE])));
      for (const w of winners) byApp.set(w.appId, w);
    }
    for (const [appId, p] of toInsert) {
      const view = byApp.get(appId);
      for (const i of p.index) {
        const result = results[i];
        if (!result) continue;
        if (view) result.application = view;
        else result.userErrors.push(userError('INTERNAL_SERVER_ERROR', 'A concurrent request changed this application; read it again.', fieldOf(i, 'appId')));
      }
    }
    return inserted;
  }
}

function attemptValues(attempt: AttemptRecord): Pick<TransitionValues, 'errcode' | 'errmsg' | 'latencyMs'> {
  return { errcode: attempt.errcode, errmsg: attempt.errmsg, latencyMs: attempt.latencyMs };
}

/** Why an apply cannot go ahead for this merchant, or undefined when it can. */
function refuse(authorizer: Authorizer | undefined, appId: string): UserError | undefined {
  if (!authorizer) return userError('AUTHORIZER_NOT_FOUND', `${appId} is not an authorizer of this provider.`);
  if (authorizer.status === 'REVOKED') return userError('AUTHORIZER_REVOKED', `${appId} revoked its authorization.`);
  if (authorizer.liveOpen) return userError('ALREADY_OPEN', `${appId} already has live broadcasting.`);
  if (!authorizer.permissionSets.includes(LIVE_PERMISSION_SET)) return userError('PERMISSION_NOT_GRANTED', `${appId} has not granted set 52.`);
  return undefined;
}
