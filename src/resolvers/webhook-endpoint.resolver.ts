import 'reflect-metadata';
import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../graphql/context.js';
import { RequiresScope } from '../graphql/operation-scopes.js';
import { CreateWebhookEndpointInput, UpdateWebhookEndpointInput } from '../schema/webhook-endpoint.input.js';
import {
  CreateWebhookEndpointPayload,
  DeleteWebhookEndpointPayload,
  RotateWebhookEndpointSecretPayload,
  UpdateWebhookEndpointPayload,
} from '../schema/webhook-endpoint.payload.js';
import { WebhookEndpoint } from '../schema/webhook-endpoint.type.js';
import { userError } from '../services/errors.js';
import type { EndpointResult, EndpointWithSecret } from '../services/webhooks/endpoints.service.js';
import type { WebhookEndpointView } from '../services/webhooks/endpoint.row.js';

@Resolver()
export class WebhookEndpointResolver {
  @Query(() => [WebhookEndpoint], { description: "The tenant's webhook endpoints, newest first (admin scope)." })
  @RequiresScope('admin')
  webhookEndpoints(@Ctx() { tenant, services }: GraphqlContext): Promise<WebhookEndpointView[]> {
    return services.webhookEndpoints.list(tenant);
  }

  @Mutation(() => CreateWebhookEndpointPayload, { description: 'Registers an endpoint; the answer carries its signing secret, shown once (admin scope).' })
  @RequiresScope('admin')
  createWebhookEndpoint(
    @Arg('input', () => CreateWebhookEndpointInput) input: CreateWebhookEndpointInput,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<EndpointWithSecret> {
    return services.webhookEndpoints.create(tenant, input);
  }

  @Mutation(() => UpdateWebhookEndpointPayload, { description: 'Changes the URL, the filter, or enables/disables it (admin scope).' })
  @RequiresScope('admin')
  updateWebhookEndpoint(
    @Arg('input', () => UpdateWebhookEndpointInput) input: UpdateWebhookEndpointInput,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<EndpointResult> {
    return services.webhookEndpoints.update(tenant, input);
  }

  @Mutation(() => DeleteWebhookEndpointPayload, { description: 'Deletes the endpoint and its delivery log (admin scope).' })
  @RequiresScope('admin')
  async deleteWebhookEndpoint(@Arg('id', () => ID) id: string, @Ctx() { tenant, services }: GraphqlContext): Promise<DeleteWebhookEndpointPayload> {
    return (await services.webhookEndpoints.delete(tenant, id))
      ? { deletedId: id, userErrors: [] }
      : { deletedId: null, userErrors: [userError('NOT_FOUND', 'No such webhook endpoint.', ['id'])] };
  }

  @Mutation(() => RotateWebhookEndpointSecretPayload, {
    description: 'A new signing secret, shown once; the previous one keeps signing for 24 hours (admin scope).',
  })
  @RequiresScope('admin')
  rotateWebhookEndpointSecret(@Arg('id', () => ID) id: string, @Ctx() { tenant, services }: GraphqlContext): Promise<EndpointWithSecret> {
    return services.webhookEndpoints.rotateSecret(tenant, id);
  }
}
