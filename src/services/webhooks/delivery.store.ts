import { and, asc, eq, lte, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { type WebhookEndpointKind, webhookDeliveries, webhookEndpoints, webhookInbox } from '../../db/tables.js';
import { asSystem, inTenant } from '../../db/tenant-scope.js';
import type { SecretBox } from '../../lib/secret-box.js';
import { assertNever } from '../errors.js';
import type { TenantContext } from '../context.js';
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
 */
export class DeliveryStore {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {}

  async claim(ctx: TenantContext, deliveryId: string, nowMs: number, leaseMs: number): Promise<ClaimedDelivery | undefined> {
    return inTenant(this.db, ctx.tenantId, async (db) => {
      const due = and(
        eq(webhookDeliveries.tenantId, ctx.tenantId),
        eq(webhookDeliveries.id, deliveryId),
        eq(webhookDeliveries.status, 'PENDING'),
        lte(webhookDeliveries.nextAttemptAt, new Date(nowMs)),
      );
      const endpointEnabled = sql`exists (select 1 from ${webhookEndpoints} e where e.id = ${webhookDeliveries.endpointId} and e.enabled)`;
      // The attempt is logged as it is claimed: a worker killed after sending leaves it counted,
      // so the resend that follows its lease is one attempt more, as the receiver saw it.
      const [claimed] = await db
        .update(webhookDeliveries)
        .set({
          nextAttemptAt: new Date(nowMs + leaseMs),
          attempts: sql`${webhookDeliveries.attempts} + 1`,
          lastAttemptAt: new Date(nowMs),
          lastStatusCode: null,
          lastResponse: null,
          lastError: IN_FLIGHT_ERROR,
        })
        .where(and(due, endpointEnabled))
        .returning();
      if (!claimed) {
        // Not due, done or held by a running attempt; or its endpoint is disabled: then it ends
        // FAILED unsent, the log of its earlier attempts untouched.
        await db
          .update(webhookDeliveries)
          .set({
            status: 'FAILED',
            nextAttemptAt: null,
            lastError: sql`left(trim('Not sent: the endpoint is disabled. ' || coalesce((select e.disabled_reason from ${webhookEndpoints} e where e.id = ${webhookDeliveries.endpointId}), '')), ${MAX_ERROR_CHARS})`,
          })
          .where(and(due, sql`not ${endpointEnabled}`));
        return undefined;
      }
      const [endpoint] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, claimed.endpointId));
      if (!endpoint) return undefined;
      const secrets = [this.box.open(endpoint.secretEnc)];
      if (endpoint.previousSecretEnc && (endpoint.previousSecretExpiresAt?.getTime() ?? 0) > nowMs) secrets.push(this.box.open(endpoint.previousSecretEnc));
      let body: Buffer = Buffer.from(claimed.payload ?? '', 'utf8');
      let contentType = 'application/json';
      let relayQuery: string | null = null;
      if (claimed.inboxId !== null) {
        const [push] = await db
          .select({ rawQuery: webhookInbox.rawQuery, rawBody: webhookInbox.rawBody, contentType: webhookInbox.contentType })
          .from(webhookInbox)
          .where(eq(webhookInbox.id, claimed.inboxId));
        body = push?.rawBody ?? Buffer.alloc(0);
        contentType = push?.contentType ?? 'text/xml';
        relayQuery = push?.rawQuery ?? '';
      }
      return {
        id: claimed.id,
        tenantId: claimed.tenantId,
        endpointId: claimed.endpointId,
        eventType: claimed.eventType,
        attempts: claimed.attempts - 1,
        endpoint: { url: endpoint.url, kind: endpoint.kind, enabled: endpoint.enabled, disabledReason: endpoint.disabledReason, secrets },
        body,
        contentType,
        relayQuery,
      };
    });
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
    return inTenant(this.db, ctx.tenantId, async (db) => {
      const delivery = (set: Partial<typeof webhookDeliveries.$inferInsert>) =>
        db
          .update(webhookDeliveries)
          .set({ ...attempt, ...set })
          .where(and(eq(webhookDeliveries.tenantId, ctx.tenantId), eq(webhookDeliveries.id, claimed.id)));
      const endpoint = (set: Partial<typeof webhookEndpoints.$inferInsert>) =>
        db
          .update(webhookEndpoints)
          .set(set)
          .where(and(eq(webhookEndpoints.tenantId, ctx.tenantId), eq(webhookEndpoints.id, claimed.endpointId)));
      switch (decision.action) {
        case 'delivered':
          await delivery({ status: 'DELIVERED', deliveredAt: now, nextAttemptAt: null });
          await db
            .update(webhookEndpoints)
            .set({ failingSince: null })
            .where(and(eq(webhookEndpoints.id, claimed.endpointId), sql`${webhookEndpoints.failingSince} is not null`));
          return { status: 'DELIVERED', nextAttemptAt: null, disabled: null };
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

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
