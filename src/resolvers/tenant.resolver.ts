import 'reflect-metadata';
import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../graphql/context.js';
import { RequiresScope } from '../graphql/operation-scopes.js';
import { Tenant } from '../schema/tenant.type.js';
import { UpdateTenantCredentialsInput } from '../schema/tenant-credentials.input.js';
import { UpdateTenantCredentialsPayload } from '../schema/tenant-credentials.payload.js';
import { API_KEY_SCOPES, type TenantContext } from '../services/context.js';
import type { TenantSummary } from '../services/tenants.service.js';

type TenantView = TenantSummary & { scope: string; scopes: string[] };

function withScopes(tenant: TenantSummary, ctx: TenantContext): TenantView {
  const scopes = API_KEY_SCOPES.filter((s) => ctx.scopes.has(s));
  const scope = ctx.scopes.has('write') ? 'write' : ctx.scopes.has('read') ? 'read' : (scopes[0] ?? '');
  return { ...tenant, scope, scopes };
}

@Resolver()
export class TenantResolver {
  @Query(() => Tenant, { description: 'The provider the API key belongs to, with its quota settings.' })
  async tenant(@Ctx() { tenant, services }: GraphqlContext): Promise<TenantView> {
    return withScopes(await services.tenants.current(tenant), tenant);
  }

  @Mutation(() => UpdateTenantCredentialsPayload, {
    description:
      "Rotates the tenant's message token, EncodingAESKey and/or component AppSecret (admin scope). Pushes under the previous token and EncodingAESKey stay accepted for CREDENTIAL_OVERLAP_MINUTES, since WeChat switches at its own moment.",
  })
  @RequiresScope('admin')
  async updateTenantCredentials(
    @Arg('input', () => UpdateTenantCredentialsInput) input: UpdateTenantCredentialsInput,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<UpdateTenantCredentialsPayload> {
    const result = await services.tenants.updateCredentials(tenant, {
      token: input.token ?? undefined,
      encodingAesKey: input.encodingAesKey ?? undefined,
      componentAppSecret: input.componentAppSecret ?? undefined,
    });
    return {
      tenant: result.tenant && withScopes(result.tenant, tenant),
      previousCredentialsAcceptedUntil: result.previousAcceptedUntil,
      userErrors: result.userErrors,
    };
  }
}
