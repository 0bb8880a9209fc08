import { and, eq, inArray } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { webhookDeliveries, webhookEndpoints } from '../../db/tables.js';
import { type Clock, utcDay } from '../../lib/clock.js';
import type { LiveApplicationView } from '../live-application/application.row.js';
import { matchesFilter, type OutboundEventType } from './endpoint.row.js';

/** A delivery made and due now, for the queue (small JSON, the row is the truth). */
export interface DueDelivery {
  tenantId: string;
  deliveryId: string;
  endpointId: string;
  /** When it is due, on the injected clock (ms). */
  dueAt: number;
}

/** One of the gateway's events, about to become one delivery per matching EVENTS endpoint of its tenant. */
export interface OutboundEvent {
  tenantId: string;
  type: OutboundEventType;
  /** What it is about, unique per endpoint: a second fan-out of the same source makes nothing. */
  source: string;
  data: Record<string, unknown>;
}

/**
 * `application.updated`'s data: the LiveApplication as the subscription delivers it (its
 * fields, timestamps as ISO strings, `history` aside) with its change-feed `cursor` (null when
 * the change reached the feed through another path; see docs/webhooks.md).
 */
export function applicationUpdatedData(application: LiveApplicationView, cursor: string | null): Record<string, unknown> {
  const { tenantId: _tenant, ...fields } = application;
  return { ...fields, cursor };
}

/**
 * Turns events into PENDING deliveries for every enabled EVENTS endpoint of their tenants whose
 * filter matches, in the caller's transaction. One indexed lookup of endpoints per call (tenants
 * without endpoints cost nothing more); the body is fixed here, so every attempt sends the same bytes.
 */
export async function recordEventDeliveries(db: Db, clock: Clock, events: readonly OutboundEvent[]): Promise<DueDelivery[]> {
  if (events.length === 0) return [];
  const tenantIds = [...new Set(events.map((e) => e.tenantId))];
  const endpoints = await db
    .select({ id: webhookEndpoints.id, tenantId: webhookEndpoints.tenantId, events: webhookEndpoints.events })
    .from(webhookEndpoints)
    .where(and(inArray(webhookEndpoints.tenantId, tenantIds), eq(webhookEndpoints.kind, 'EVENTS'), eq(webhookEndpoints.enabled, true)));
  if (endpoints.length === 0) return [];
  const now = new Date(clock.now());
  const rows: (typeof webhookDeliveries.$inferInsert)[] = [];
  for (const event of events) {
    const payload = JSON.stringify({ type: event.type, timestamp: now.toISOString(), data: event.data });
    for (const endpoint of endpoints) {
      // Tenant A's events only ever become deliveries to tenant A's endpoints.
      if (endpoint.tenantId !== event.tenantId || !matchesFilter(endpoint.events, event.type)) continue;
      rows.push({
        tenantId: event.tenantId,
        endpointId: endpoint.id,
        eventType: event.type,
        source: event.source,
        payload,
        createdAt: now,
        createdOn: utcDay(now.getTime()),
        nextAttemptAt: now,
      });
    }
  }
  if (rows.length === 0) return [];
  const made = await db
    .insert(webhookDeliveries)
    .values(rows)
    .onConflictDoNothing({ target: [webhookDeliveries.endpointId, webhookDeliveries.source, webhookDeliveries.createdOn] })
    .returning({ deliveryId: webhookDeliveries.id, tenantId: webhookDeliveries.tenantId, endpointId: webhookDeliveries.endpointId });
  return made.map((d) => ({ ...d, dueAt: now.getTime() }));
}
