import 'reflect-metadata';
import { Arg, Ctx, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../graphql/context.js';
import { RequiresScope } from '../graphql/operation-scopes.js';
import { AccessToken } from '../schema/access-token.type.js';

const REJECTED =
  'The token WeChat just refused (40001/42001), if any: when it is still the current one the gateway refreshes once, for every caller, and answers the new one; otherwise it answers the current one.';

@Resolver()
export class AccessTokenResolver {
  @Query(() => AccessToken, { description: "The tenant's component_access_token (API keys with the token scope only)." })
  @RequiresScope('token')
  componentAccessToken(
    @Arg('rejectedToken', () => String, { nullable: true, description: REJECTED }) rejectedToken: string | null,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<AccessToken> {
    return services.tokens.componentAccessToken(tenant, rejectedToken);
  }

  @Query(() => AccessToken, { description: "One merchant's authorizer_access_token (API keys with the token scope only)." })
  @RequiresScope('token')
  authorizerAccessToken(
    @Arg('appId', () => String) appId: string,
    @Arg('rejectedToken', () => String, { nullable: true, description: REJECTED }) rejectedToken: string | null,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<AccessToken> {
    return services.tokens.authorizerAccessToken(tenant, appId, rejectedToken);
  }
}
