import type { OutboxFanOut, PublishedChange } from '../../events/outbox-relay.js';
import type { Clock } from '../../lib/clock.js';
import type { WebhookDeliveryQueue } from './deliveries.service.js';
import { applicationUpdatedData, recordEventDeliveries } from './event-fan-out.js';

/**
 * `application.updated` from the change outbox: each committed transition, as its outbox row is
 * deleted (after the feed has it, with its cursor), becomes deliveries in that transaction; the
 * jobs are enqueued after commit.
 */
export function applicationEventsFanOut(clock: Clock, queue: WebhookDeliveryQueue): OutboxFanOut {
  return {
    async record(db, changes: readonly PublishedChange[]) {
      const due = await recordEventDeliveries(
        db,
        clock,
        changes.map((c) => ({
          tenantId: c.application.tenantId,
          type: 'application.updated' as const,
          source: `outbox:${c.outboxId}`,
          data: applicationUpdatedData(c.application, c.cursor),
        })),
      );
      return due.length === 0 ? undefined : () => queue.enqueue(due);
    },
  };
}
