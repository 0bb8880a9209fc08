import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { type WebhookDeliveryStatus, webhookDeliveries, webhookEndpoints, webhookInbox } from '../../db/tables.js';
import { inTenant } from '../../db/tenant-scope.js';
import type { Clock } from '../../lib/clock.js';
import type { TenantContext } from '../context.js';
import { clampPageSize, decodeCursor, isUuid, type Page } from '../cursor.js';
import { DomainError, type UserError, userError } from '../errors.js';
import { deliveryView, type WebhookDeliveryView } from './delivery.row.js';
import type { DueDelivery } from './event-fan-out.js';

/** What the services need from the delivery queue (src/jobs/webhook-queue.ts). */
export interface WebhookDeliveryQueue {
  /** One job per delivery and due time; a lost enqueue is repaired by the worker's sweep of due deliveries. */
  enqueue(deliveries: readonly DueDelivery[]): Promise<void>;
}

export interface DeliveryListOptions {
  endpointId?: string | null;
  first?: number | null;
  after?: string | null;
  statuses?: readonly WebhookDeliveryStatus[] | null;
}

/** The delivery log as the API reads it (admin scope), and redelivery. */
export class WebhookDeliveriesService {
  constructor(private readonly deps: { db: Db; clock: Clock; queue: WebhookDeliveryQueue }) {}

  /** Newest first. An endpoint id that is not the tenant's answers an empty page, like one nobody has. */
  async list(ctx: TenantContext, options: DeliveryListOptions): Promise<Page<WebhookDeliveryView>> {
    const limit = clampPageSize(options.first);
    const cursor = options.after ? decodeCursor(options.after) : undefined;
    if (options.after && !cursor) throw new DomainError('INVALID_INPUT', 'The "after" cursor is not one this API issued.');
    if (options.endpointId != null && !isUuid(options.endpointId)) return { items: [], hasNextPage: false };
    const rows = await inTenant(this.deps.db, ctx.tenantId, (db) =>
      db
        .select(deliveryView)
        .from(webhookDeliveries)
        .where(
          and(
            eq(webhookDeliveries.tenantId, ctx.tenantId),
            options.endpointId == null ? undefined : eq(webhookDeliveries.endpointId, options.endpointId),
            options.statuses?.length ? inArray(webhookDeliveries.status, [...options.statuses]) : undefined,
            cursor
              ? sql`(${webhookDeliveries.createdAt}, ${webhookDeliveries.id}) < (${cursor.createdAt.toISOString()}::timestamptz, ${cursor.id}::uuid)`
              : undefined,
          ),
        )
        .orderBy(sql`${webhookDeliveries.createdAt} desc nulls last`, sql`${webhookDeliveries.id} desc nulls last`)
        .limit(limit + 1),
    );
    return { items: rows.slice(0, limit), hasNextPage: rows.length > limit };
  }

  /**
   * Sends a delivery once more, now, whatever its status; its attempts keep counting (a failed
   * redelivery retries on the rest of the schedule). The endpoint must be enabled.
   */
  async redeliver(ctx: TenantContext, id: string): Promise<{ delivery: WebhookDeliveryView | null; userErrors: UserError[] }> {
    const notFound = { delivery: null, userErrors: [userError('NOT_FOUND', 'No such webhook delivery.', ['id'])] };
    if (!isUuid(id)) return notFound;
    const now = new Date(this.deps.clock.now());
    const outcome = await inTenant(this.deps.db, ctx.tenantId, async (db) => {
      const [found] = await db
        .select({
          enabled: webhookEndpoints.enabled,
          // A relayed push nothing acts on keeps its envelope only until relayed (the retention job).
          envelopeGone: sql<boolean>`${webhookDeliveries.inboxId} is not null and not exists (select 1 from ${webhookInbox} i where i.id = ${webhookDeliveries.inboxId} and i.pushed_on = ${webhookDeliveries.inboxPushedOn} and i.raw_body is not null)`,
        })
        .from(webhookDeliveries)
        .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
        .where(and(eq(webhookDeliveries.tenantId, ctx.tenantId), eq(webhookDeliveries.id, id)));
      if (!found) return 'missing' as const;
      if (!found.enabled) return 'disabled' as const;
      if (found.envelopeGone) return 'gone' as const;
      const [row] = await db
        .update(webhookDeliveries)
        .set({ status: 'PENDING', nextAttemptAt: now, deliveredAt: null })
        .where(and(eq(webhookDeliveries.tenantId, ctx.tenantId), eq(webhookDeliveries.id, id)))
        .returning(deliveryView);
      return row;
    });
    if (outcome === 'missing' || outcome === undefined) return notFound;
    if (outcome === 'gone') {
      return {
        delivery: null,
        userErrors: [
          userError('NOT_FOUND', 'The push this delivery relayed is no longer stored (its type is relayed only, and its envelope is dropped once relayed).', [
            'id',
          ]),
        ],
      };
    }
    if (outcome === 'disabled') return { delivery: null, userErrors: [userError('WEBHOOK_ENDPOINT_DISABLED', undefined, ['id'])] };
    await this.deps.queue.enqueue([{ tenantId: ctx.tenantId, deliveryId: outcome.id, endpointId: outcome.endpointId, dueAt: now.getTime() }]);
    return { delivery: outcome, userErrors: [] };
  }
}
