import { and, asc, eq, lte, sql } from 'drizzle-orm';
import { arrayParam, type Db, rowsOf } from '../../db/client.js';
import { type WebhookEndpointKind, webhookDeliveries, webhookEndpoints, webhookInbox } from '../../db/tables.js';
import { asSystem, GENERIC_PLANS, inTenant, inTenantStatement } from '../../db/tenant-scope.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { TenantContext } from '../context.js';
import { assertNever } from '../errors.js';
import { type AttemptResult, type Decision, DISABLE_FAILING_AFTER_MS } from './delivery-schedule.js';
import type { DueDelivery } from './event-fan-out.js';

const MAX_ERROR_CHARS = 500;
/** The error an attempt shows from its claim until its outcome is recorded (and for good if its worker died meanwhile). */
export const IN_FLIGHT_ERROR =
  'No outcome recorded: the attempt is in flight, or its worker stopped before recording it (it is sent again when its lease ends).';
/** The bounded snippet of the last response body kept for support. */
export const MAX_RESPONSE_SNIPPET_CHARS = 1_024;

/** An attempt about to be made: the delivery, its endpoint, and what to send. */
export interface ClaimedDelivery {
  id: string;
  tenantId: string;
  endpointId: string;
  eventType: string;
  /** Attempts before this one. */
  attempts: number;
  endpoint: { url: string; kind: WebhookEndpointKind; enabled: boolean; disabledReason: string | null; secrets: string[] };
  /** The body and its content type; for RELAY also the query string WeChat sent. */
  body: Buffer;
  contentType: string;
  relayQuery: string | null;
}

export interface RecordedAttempt {
  status: 'PENDING' | 'DELIVERED' | 'FAILED';
  /** PENDING: when the next attempt is due (ms). */
  nextAttemptAt: number | null;
  /** Set when this attempt disabled the endpoint. */
  disabled: string | null;
}

/**
 * The delivery log as the worker writes it. An attempt is claimed by moving `next_attempt_at` a
 * lease ahead (compare-and-set on its due time), so a duplicate job or another worker does not
 * send it twice at once, and an attempt whose worker died is due again when the lease ends.
 *
 * The batched statements find their rows by id (`= any(...)`, the primary key's first column)
 * and leave the tenant to the scope's row-level security: with a `tenant_id =` condition beside
 * the ids, the planner, going by a day partition's statistics from before its growth, scanned
 * every delivery of the tenant that day (auto_explain: 1,518 rows read to record 4, 5-15 ms).
 * Even by id alone, a custom plan for the values at hand took the due-time index (1,504 rows
 * read to claim 2), so they are planned generically (ScopeOptions.genericPlans), which also
 * spares the 2 ms of planning a claim cost on every call.
 */
export class DeliveryStore {
  /** Claims asked for in this turn of the event loop, by tenant and lease: one statement each batch. */
  private readonly claims = new Map<string, PendingClaim[]>();
  /** Delivered attempts recorded in this turn of the event loop, by tenant: one statement each batch. */
  private readonly delivered = new Map<string, PendingDelivered[]>();

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {}

  /**
   * Claims one attempt (see the class). The claims that concurrent attempts of one tenant ask for
   * in the same turn of the event loop are made together: one UPDATE ... RETURNING joined with
   * the endpoint and the relayed push, in one transaction, instead of three statements each.
   */
  claim(ctx: TenantContext, deliveryId: string, nowMs: number, leaseMs: number): Promise<ClaimedDelivery | undefined> {
    return new Promise((resolve, reject) => {
      const key = `${ctx.tenantId} ${leaseMs}`;
      let batch = this.claims.get(key);
      if (!batch) {
        const fresh: PendingClaim[] = [];
        batch = fresh;
        this.claims.set(key, fresh);
        setImmediate(() => {
          this.claims.delete(key);
          this.claimBatch(ctx.tenantId, leaseMs, fresh).catch((err: unknown) => {
            for (const c of fresh) c.reject(err);
          });
        });
      }
      batch.push({ deliveryId, nowMs, resolve, reject });
    });
  }

  private async claimBatch(tenantId: string, leaseMs: number, batch: PendingClaim[]): Promise<void> {
    const nowMs = Math.max(...batch.map((c) => c.nowMs));
    const ids = [...new Set(batch.map((c) => c.deliveryId))].filter((id) => UUID.test(id));
    const now = new Date(nowMs).toISOString();
    const found = new Map<string, ClaimedDelivery>();
    if (ids.length > 0) {
      await inTenant(
        this.db,
        tenantId,
        async (db) => {
          // The attempt is logged as it is claimed: a worker killed after sending leaves it counted,
          // so the resend that follows its lease is one attempt more, as the receiver saw it.
          const rows = rowsOf<ClaimRow>(
            await db.execute(sql`
            with c as (
              update ${webhookDeliveries} d
              set next_attempt_at = ${new Date(nowMs + leaseMs).toISOString()}::timestamptz, attempts = d.attempts + 1,
                last_attempt_at = ${now}::timestamptz, last_status_code = null, last_response = null, last_error = ${IN_FLIGHT_ERROR}
              where d.id = any(${arrayParam(ids)}::uuid[])
                and d.status = 'PENDING' and d.next_attempt_at <= ${now}::timestamptz
                -- offset 0: checked per claimed row, not made a join whose endpoint_id index the planner would scan the day by.
                and exists (select 1 from ${webhookEndpoints} e where e.id = d.endpoint_id and e.enabled offset 0)
              returning d.id, d.tenant_id, d.endpoint_id, d.event_type, d.attempts, d.payload, d.inbox_id, d.inbox_pushed_on
            )
            select c.*, e.url, e.kind, e.enabled, e.disabled_reason, e.secret_enc,
              case when e.previous_secret_expires_at > ${now}::timestamptz then e.previous_secret_enc end as previous_secret_enc,
              i.raw_query, i.raw_body, i.content_type
            from c join ${webhookEndpoints} e on e.id = c.endpoint_id
            left join ${webhookInbox} i on i.id = c.inbox_id and i.pushed_on = c.inbox_pushed_on`),
          );
          for (const row of rows) found.set(row.id, this.claimed(row));
          const missing = ids.filter((id) => !found.has(id));
          if (missing.length === 0) return;
          // Not due, done or held by a running attempt; or its endpoint is disabled: then it ends
          // FAILED unsent, the log of its earlier attempts untouched.
          const endpointEnabled = sql`exists (select 1 from ${webhookEndpoints} e where e.id = ${webhookDeliveries.endpointId} and e.enabled)`;
          await db
            .update(webhookDeliveries)
            .set({
              status: 'FAILED',
              nextAttemptAt: null,
              lastError: sql`left(trim('Not sent: the endpoint is disabled. ' || coalesce((select e.disabled_reason from ${webhookEndpoints} e where e.id = ${webhookDeliveries.endpointId}), '')), ${MAX_ERROR_CHARS})`,
            })
            .where(
              and(
                sql`${webhookDeliveries.id} = any(${arrayParam(missing)}::uuid[])`,
                eq(webhookDeliveries.status, 'PENDING'),
                lte(webhookDeliveries.nextAttemptAt, new Date(nowMs)),
                sql`not ${endpointEnabled}`,
              ),
            );
        },
        GENERIC_PLANS,
      );
    }
    // A delivery asked for twice in one batch is sent by the first asking only.
    for (const c of batch) {
      const claimed = found.get(c.deliveryId);
      found.delete(c.deliveryId);
      c.resolve(claimed);
    }
  }

  private claimed(row: ClaimRow): ClaimedDelivery {
    const secrets = [this.box.open(row.secret_enc)];
    if (row.previous_secret_enc) secrets.push(this.box.open(row.previous_secret_enc));
    const relayed = row.inbox_id !== null;
    return {
      id: row.id,
      tenantId: row.tenant_id,
      endpointId: row.endpoint_id,
      eventType: row.event_type,
      attempts: row.attempts - 1,
      endpoint: { url: row.url, kind: row.kind, enabled: row.enabled, disabledReason: row.disabled_reason, secrets },
      body: relayed ? (row.raw_body ?? Buffer.alloc(0)) : Buffer.from(row.payload ?? '', 'utf8'),
      contentType: relayed ? (row.content_type ?? 'text/xml') : 'application/json',
      relayQuery: relayed ? (row.raw_query ?? '') : null,
    };
  }

  /** Records one attempt and what follows from it, for the delivery and its endpoint, in one transaction. */
  async record(
    ctx: TenantContext,
    claimed: ClaimedDelivery,
    result: AttemptResult & { response: string | null },
    decision: Decision,
    nowMs: number,
  ): Promise<RecordedAttempt> {
    const now = new Date(nowMs);
    const attempt = {
      attempts: claimed.attempts + 1,
      lastStatusCode: result.statusCode,
      lastError: result.error === null ? null : truncate(result.error, MAX_ERROR_CHARS),
      lastResponse: result.response === null ? null : truncate(result.response, MAX_RESPONSE_SNIPPET_CHARS),
      lastAttemptAt: now,
    };
    if (decision.action === 'delivered') {
      await this.recordDelivered(ctx.tenantId, { id: claimed.id, endpointId: claimed.endpointId, ...attempt });
      return { status: 'DELIVERED', nextAttemptAt: null, disabled: null };
    }
    return inTenant(this.db, ctx.tenantId, async (db) => {
      const delivery = (set: Partial<typeof webhookDeliveries.$inferInsert>) =>
        db
          .update(webhookDeliveries)
          .set({ ...attempt, ...set })
          // By id only, the tenant left to row-level security (see the class).
          .where(eq(webhookDeliveries.id, claimed.id));
      const endpoint = (set: Partial<typeof webhookEndpoints.$inferInsert>) =>
        db
          .update(webhookEndpoints)
          .set(set)
          .where(and(eq(webhookEndpoints.tenantId, ctx.tenantId), eq(webhookEndpoints.id, claimed.endpointId)));
      switch (decision.action) {
        case 'gone': {
          const reason = `The endpoint answered 410 Gone at ${now.toISOString()}.`;
          await delivery({ status: 'FAILED', nextAttemptAt: null });
          await endpoint({ enabled: false, disabledReason: reason, updatedAt: now });
          return { status: 'FAILED', nextAttemptAt: null, disabled: reason };
        }
        case 'retry':
        case 'exhausted': {
          const next = decision.action === 'retry' ? new Date(nowMs + decision.delayMs) : null;
          await delivery(next ? { nextAttemptAt: next } : { status: 'FAILED', nextAttemptAt: null });
          const [ep] = await db
            .update(webhookEndpoints)
            .set({ failingSince: sql`coalesce(${webhookEndpoints.failingSince}, ${now.toISOString()}::timestamptz)` })
            .where(and(eq(webhookEndpoints.tenantId, ctx.tenantId), eq(webhookEndpoints.id, claimed.endpointId)))
            .returning({ failingSince: webhookEndpoints.failingSince, enabled: webhookEndpoints.enabled });
          let disabled: string | null = null;
          if (ep?.enabled && ep.failingSince && nowMs - ep.failingSince.getTime() >= DISABLE_FAILING_AFTER_MS) {
            disabled = `Every delivery failed since ${ep.failingSince.toISOString()} (5 days); the last: ${attempt.lastError ?? `HTTP ${attempt.lastStatusCode}`}.`;
            await endpoint({ enabled: false, disabledReason: truncate(disabled, MAX_ERROR_CHARS), updatedAt: now });
          }
          return { status: next ? 'PENDING' : 'FAILED', nextAttemptAt: next?.getTime() ?? null, disabled };
        }
        default:
          return assertNever(decision);
      }
    });
  }

  /**
   * Delivered attempts of one tenant recorded in the same turn of the event loop: one statement
   * (the deliveries and, in the same statement, their endpoints' `failing_since` cleared) in one
   * transaction for the batch.
   */
  private recordDelivered(tenantId: string, attempt: PendingDelivered['attempt']): Promise<void> {
    return new Promise((resolve, reject) => {
      let batch = this.delivered.get(tenantId);
      if (!batch) {
        const fresh: PendingDelivered[] = [];
        batch = fresh;
        this.delivered.set(tenantId, fresh);
        setImmediate(() => {
          this.delivered.delete(tenantId);
          this.recordDeliveredBatch(tenantId, fresh).then(
            () => {
              for (const d of fresh) d.resolve();
            },
            (err: unknown) => {
              for (const d of fresh) d.reject(err);
            },
          );
        });
      }
      batch.push({ attempt, resolve, reject });
    });
  }

  private async recordDeliveredBatch(tenantId: string, batch: PendingDelivered[]): Promise<void> {
    // One statement text whatever the batch's size (one prepared statement, not one per size).
    const values = JSON.stringify(
      batch.map(({ attempt: a }) => ({
        id: a.id,
        attempts: a.attempts,
        code: a.lastStatusCode,
        error: a.lastError,
        response: a.lastResponse,
        at: a.lastAttemptAt.toISOString(),
      })),
    );
    const ids = arrayParam(batch.map(({ attempt }) => attempt.id));
    await inTenantStatement(
      this.db,
      tenantId,
      (db) =>
        db.execute(sql`
        with d as (
          update ${webhookDeliveries} w
          set status = 'DELIVERED', delivered_at = v.at, next_attempt_at = null, attempts = v.attempts,
            last_status_code = v.code, last_error = v.error, last_response = v.response, last_attempt_at = v.at
          from jsonb_to_recordset(${values}::jsonb) as v(id uuid, attempts int, code int, error text, response text, at timestamptz)
          where w.id = any(${ids}::uuid[]) and w.id = v.id
          returning w.endpoint_id
        )
        update ${webhookEndpoints} e set failing_since = null
        where e.id in (select endpoint_id from d) and e.failing_since is not null`),
      GENERIC_PLANS,
    );
  }

  /** PENDING deliveries of every tenant due at `nowMs` (their job was lost, or their lease ran out), oldest first. */
  due(nowMs: number, limit: number): Promise<DueDelivery[]> {
    return asSystem(this.db, async (db) => {
      const rows = await db
        .select({
          deliveryId: webhookDeliveries.id,
          tenantId: webhookDeliveries.tenantId,
          endpointId: webhookDeliveries.endpointId,
          dueAt: webhookDeliveries.nextAttemptAt,
        })
        .from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.status, 'PENDING'), lte(webhookDeliveries.nextAttemptAt, new Date(nowMs))))
        .orderBy(asc(webhookDeliveries.nextAttemptAt))
        .limit(limit);
      return rows.map((r) => ({ ...r, dueAt: r.dueAt?.getTime() ?? nowMs }));
    });
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface PendingClaim {
  deliveryId: string;
  nowMs: number;
  resolve(claimed: ClaimedDelivery | undefined): void;
  reject(err: unknown): void;
}

interface PendingDelivered {
  attempt: {
    id: string;
    endpointId: string;
    attempts: number;
    lastStatusCode: number | null;
    lastError: string | null;
    lastResponse: string | null;
    lastAttemptAt: Date;
  };
  resolve(): void;
  reject(err: unknown): void;
}

/** A claimed delivery with its endpoint and relayed push, as the claim's statement returns it. */
interface ClaimRow {
  id: string;
  tenant_id: string;
  endpoint_id: string;
  event_type: string;
  attempts: number;
  payload: string | null;
  inbox_id: number | string | null;
  url: string;
  kind: WebhookEndpointKind;
  enabled: boolean;
  disabled_reason: string | null;
  secret_enc: string;
  previous_secret_enc: string | null;
  raw_query: string | null;
  raw_body: Buffer | null;
  content_type: string | null;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
