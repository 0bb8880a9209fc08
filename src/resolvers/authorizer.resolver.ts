import 'reflect-metadata';
import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, Info, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../graphql/context.js';
import { selects } from '../graphql/selection.js';
import { AuthorizerConnection, Authorizer as AuthorizerType } from '../schema/authorizer.type.js';
import { ImportAuthorizerInput } from '../schema/import-authorizer.input.js';
import { ImportAuthorizersPayload } from '../schema/import-authorizers.payload.js';
import { type Authorizer, type ImportResult, MAX_IMPORT } from '../services/authorizers.service.js';
import { type UserError, userError } from '../services/errors.js';
import { type Connection, toConnection } from './connection.js';

@Resolver()
export class AuthorizerResolver {
  @Query(() => AuthorizerType, { nullable: true, description: "One of the caller's merchants; null when unknown." })
  async authorizer(@Arg('appId', () => String) appId: string, @Ctx() { tenant, services }: GraphqlContext): Promise<Authorizer | null> {
    return (await services.authorizers.get(tenant, appId)) ?? null;
  }

  @Query(() => AuthorizerConnection, { description: "The caller's merchants, newest first." })
  async authorizers(
    @Arg('first', () => Int, { nullable: true, description: 'Page size, 20 by default, at most 100.' }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() { tenant, services }: GraphqlContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<Connection<Authorizer> & { totalCount?: number }> {
    const connection = toConnection(await services.authorizers.list(tenant, first, after), after);
    // Counted only when asked for.
    if (!selects(info, ['totalCount'])) return connection;
    return { ...connection, totalCount: await services.authorizers.count(tenant) };
  }

  @Mutation(() => ImportAuthorizersPayload, { description: `Imports (upserts) up to ${MAX_IMPORT} merchants with their refresh tokens.` })
  async importAuthorizers(
    @Arg('input', () => [ImportAuthorizerInput]) input: ImportAuthorizerInput[],
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<{ results: ImportResult[]; userErrors: UserError[] }> {
    if (input.length > MAX_IMPORT) return { results: [], userErrors: [userError('BATCH_TOO_LARGE', `Got ${input.length} authorizers.`, ['input'])] };
    const items = input.map((i) => ({
      appId: i.appId,
      refreshToken: i.refreshToken,
      permissionSets: i.permissionSets ?? undefined,
      liveOpen: i.liveOpen ?? null,
    }));
    return { results: await services.authorizers.import(tenant, items), userErrors: [] };
  }
}
