import 'reflect-metadata';
import { registerEnumType } from 'type-graphql';
import type { WebhookEndpointKind as Kind } from '../db/tables.js';

export const WebhookEndpointKind = { RELAY: 'RELAY', EVENTS: 'EVENTS' } as const satisfies Record<Kind, Kind>;

registerEnumType(WebhookEndpointKind, {
  name: 'WebhookEndpointKind',
  valuesConfig: {
    RELAY: { description: "WeChat's verified pushes, forwarded verbatim (method, query string, body, content type)." },
    EVENTS: { description: "The gateway's own events (application.updated, ...) as signed Standard Webhooks." },
  },
});
