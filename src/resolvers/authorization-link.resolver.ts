import 'reflect-metadata';
import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../graphql/context.js';
import { CreateAuthorizationLinkPayload } from '../schema/authorization-link.type.js';
import type { AuthorizationLinkResult } from '../services/authorization-link.service.js';

@Resolver()
export class AuthorizationLinkResolver {
  @Mutation(() => CreateAuthorizationLinkPayload, { description: 'A link a merchant opens to authorize the provider; WeChat returns it to redirectUri.' })
  createAuthorizationLink(
    @Arg('redirectUri', () => String) redirectUri: string,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<AuthorizationLinkResult> {
    return services.authorizationLinks.create(tenant, redirectUri);
  }
}
