import 'reflect-metadata';
import { Ctx, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../graphql/context.js';
import { Tenant } from '../schema/tenant.type.js';
import { API_KEY_SCOPES } from '../services/context.js';
import type { TenantSummary } from '../services/tenants.service.js';

@Resolver()
export class TenantResolver {
  @Query(() => Tenant, { description: 'The provider the API key belongs to, with its quota settings.' })
  async tenant(@Ctx() { tenant, services }: GraphqlContext): Promise<TenantSummary & { scope: string; scopes: string[] }> {
    const scopes = API_KEY_SCOPES.filter((s) => tenant.scopes.has(s));
    const scope = tenant.scopes.has('write') ? 'write' : tenant.scopes.has('read') ? 'read' : (scopes[0] ?? '');
    return { ...(await services.tenants.current(tenant)), scope, scopes };
  }
}
