import 'reflect-metadata';
import { registerEnumType } from 'type-graphql';
import type { WebhookDeliveryStatus as Status } from '../db/tables.js';

export const WebhookDeliveryStatus = { PENDING: 'PENDING', DELIVERED: 'DELIVERED', FAILED: 'FAILED' } as const satisfies Record<Status, Status>;

registerEnumType(WebhookDeliveryStatus, {
  name: 'WebhookDeliveryStatus',
  valuesConfig: {
    PENDING: { description: 'Not delivered yet: the next attempt is at nextAttemptAt (retries over about three days).' },
    DELIVERED: { description: 'The endpoint answered 2xx.' },
    FAILED: { description: 'Every attempt failed, the endpoint answered 410 Gone, or it is disabled; redeliverWebhook sends it again.' },
  },
});
