import 'reflect-metadata';
import { Arg, Ctx, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../graphql/context.js';
import { Quota } from '../schema/quota.type.js';
import type { AppQuota } from '../services/quota.service.js';

@Resolver()
export class QuotaResolver {
  @Query(() => Quota, { description: "Today's applyliveinfo quota for one of the caller's merchants." })
  quota(@Arg('appId', () => String) appId: string, @Ctx() { tenant, services }: GraphqlContext): Promise<AppQuota> {
    return services.quota.forApp(tenant, appId);
  }
}
