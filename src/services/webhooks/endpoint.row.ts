import { webhookEndpoints, type WebhookEndpointKind } from '../../db/tables.js';

/** The one mapping of a webhook_endpoints row as the API shows it (secrets never leave the service). */
export interface WebhookEndpointView {
  id: string;
  url: string;
  kind: WebhookEndpointKind;
  /** null: every type. */
  events: string[] | null;
  enabled: boolean;
  disabledReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export const endpointView = {
  id: webhookEndpoints.id,
  url: webhookEndpoints.url,
  kind: webhookEndpoints.kind,
  events: webhookEndpoints.events,
  enabled: webhookEndpoints.enabled,
  disabledReason: webhookEndpoints.disabledReason,
  createdAt: webhookEndpoints.createdAt,
  updatedAt: webhookEndpoints.updatedAt,
};

/** The gateway's own event types (EVENTS endpoints); `*` means all of them. */
export const OUTBOUND_EVENT_TYPES = ['application.updated', 'authorizer.updated', 'live_room.updated', 'live_goods.updated'] as const;
export type OutboundEventType = (typeof OUTBOUND_EVENT_TYPES)[number];

/** Whether an endpoint's filter lets a type through: null, empty or `*` is everything. */
export function matchesFilter(events: readonly string[] | null, type: string): boolean {
  return events === null || events.length === 0 || events.includes('*') || events.includes(type);
}
