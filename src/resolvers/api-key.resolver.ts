import 'reflect-metadata';
import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../graphql/context.js';
import { RequiresScope } from '../graphql/operation-scopes.js';
import { CreateApiKeyInput } from '../schema/api-key.input.js';
import { CreateApiKeyPayload, RevokeApiKeyPayload } from '../schema/api-key.payload.js';
import { ApiKey } from '../schema/api-key.type.js';
import type { ApiKeyView, CreateApiKeyResult, RevokeApiKeyResult } from '../services/api-keys/api-keys.service.js';

@Resolver()
export class ApiKeyResolver {
  @Query(() => [ApiKey], { description: "The tenant's API keys, revoked ones included, oldest first (admin scope)." })
  @RequiresScope('admin')
  apiKeys(@Ctx() { tenant, services }: GraphqlContext): Promise<ApiKeyView[]> {
    return services.apiKeys.list(tenant);
  }

  @Mutation(() => CreateApiKeyPayload, { description: 'A new key of this tenant; the answer carries the key, shown once (admin scope).' })
  @RequiresScope('admin')
  createApiKey(@Arg('input', () => CreateApiKeyInput) input: CreateApiKeyInput, @Ctx() { tenant, services }: GraphqlContext): Promise<CreateApiKeyResult> {
    return services.apiKeys.create(tenant, input);
  }

  @Mutation(() => RevokeApiKeyPayload, { description: 'Revokes a key of this tenant; every gateway instance refuses it within a second (admin scope).' })
  @RequiresScope('admin')
  revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() { tenant, services }: GraphqlContext): Promise<RevokeApiKeyResult> {
    return services.apiKeys.revoke(tenant, id);
  }
}
