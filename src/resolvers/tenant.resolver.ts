import 'reflect-metadata';
import { Ctx, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../graphql/context.js';
import { Tenant } from '../schema/tenant.type.js';
import type { TenantSummary } from '../services/tenants.service.js';

@Resolver()
export class TenantResolver {
  @Query(() => Tenant, { description: 'The provider the API key belongs to, with its quota settings.' })
  async tenant(@Ctx() { tenant, services }: GraphqlContext): Promise<TenantSummary & { scope: string }> {
    return { ...(await services.tenants.current(tenant)), scope: tenant.scope };
  }
}
