import 'reflect-metadata';
import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../graphql/context.js';
import { RequiresScope } from '../graphql/operation-scopes.js';
import { RedeliverWebhookPayload, WebhookDeliveryConnection, WebhookDeliveryFilter } from '../schema/webhook-delivery.type.js';
import type { UserError } from '../services/errors.js';
import type { WebhookDeliveryView } from '../services/webhooks/delivery.row.js';
import { type Connection, toConnection } from './connection.js';

@Resolver()
export class WebhookDeliveryResolver {
  @Query(() => WebhookDeliveryConnection, { description: 'The delivery log, newest first, of one endpoint or all (admin scope).' })
  @RequiresScope('admin')
  async webhookDeliveries(
    @Arg('endpointId', () => ID, { nullable: true }) endpointId: string | null,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, 20 by default, at most 100.' }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('filter', () => WebhookDeliveryFilter, { nullable: true }) filter: WebhookDeliveryFilter | null,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<Connection<WebhookDeliveryView>> {
    return toConnection(await services.webhookDeliveries.list(tenant, { endpointId, first, after, statuses: filter?.status ?? null }), after);
  }

  @Mutation(() => RedeliverWebhookPayload, { description: 'Sends a delivery once more, now, whatever its status (admin scope).' })
  @RequiresScope('admin')
  redeliverWebhook(
    @Arg('id', () => ID) id: string,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<{ delivery: WebhookDeliveryView | null; userErrors: UserError[] }> {
    return services.webhookDeliveries.redeliver(tenant, id);
  }
}
