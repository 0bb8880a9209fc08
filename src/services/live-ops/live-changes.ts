import type { Logger } from '../../lib/logger.js';
import type { WebhookDeliveryQueue } from '../webhooks/deliveries.service.js';
import type { LiveEventPublisher, MirrorChanges } from './live-mirror.js';

/**
 * Where committed mirror changes go after commit: subscribers on every instance and the webhook
 * queue. Both are best effort here: the events are committed in live_events (subscribers resume
 * from them) and the deliveries in webhook_deliveries (the delivery sweep sends what was not enqueued).
 */
export class LiveChangeSink {
  constructor(
    private readonly logger: Logger,
    private readonly publisher?: LiveEventPublisher,
    private readonly webhookQueue?: WebhookDeliveryQueue,
    /** The merchants a change was seen for (the live mutations: the sync loop reads them soon after). */
    private readonly onChanged?: (tenantId: string, appIds: string[]) => Promise<void>,
  ) {}

  async announce(tenantId: string, changes: MirrorChanges): Promise<void> {
    if (changes.events.length > 0 && this.publisher) {
      await this.publisher.publish(tenantId, changes.events).catch((err: unknown) => this.logger.warn({ err }, 'live events not published'));
    }
    if (changes.deliveries.length > 0 && this.webhookQueue) {
      await this.webhookQueue.enqueue(changes.deliveries).catch((err: unknown) => this.logger.warn({ err }, 'live deliveries not enqueued'));
    }
    if (changes.events.length > 0 && this.onChanged) {
      const appIds = [...new Set(changes.events.map((e) => e.appId))];
      await this.onChanged(tenantId, appIds).catch((err: unknown) => this.logger.warn({ err }, 'live sync not marked due'));
    }
  }
}
