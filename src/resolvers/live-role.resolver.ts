import 'reflect-metadata';
import { Arg, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../graphql/context.js';
import { LiveRoleInput } from '../schema/live-ops.input.js';
import { LiveRolePayload } from '../schema/live-ops.payload.js';
import { LiveRole, LiveRoleList } from '../schema/live-role.type.js';
import type { LiveRoleName, RoleListResult } from '../services/live-ops/live-roles.service.js';

@Resolver()
export class LiveRoleResolver {
  @Query(() => LiveRoleList, { description: 'Members with live roles, read through WeChat (role quota), at most 30 a page.' })
  liveRoles(
    @Arg('appId', () => String) appId: string,
    @Arg('role', () => LiveRole, { nullable: true, description: 'Only this role; all by default.' }) role: LiveRoleName | null,
    @Arg('first', () => Int, { nullable: true, description: 'At most 30.' }) first: number | null,
    @Arg('offset', () => Int, { nullable: true }) offset: number | null,
    @Arg('keyword', () => String, { nullable: true, description: 'Search by nickname or WeChat id.' }) keyword: string | null,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<RoleListResult> {
    return services.liveRoles.list(tenant, appId, { role, first, offset, keyword });
  }

  @Mutation(() => LiveRolePayload, { description: 'addrole (role quota): the member must have verified their real name in 小程序直播.' })
  addLiveRole(@Arg('input', () => LiveRoleInput) input: LiveRoleInput, @Ctx() { tenant, services }: GraphqlContext): Promise<LiveRolePayload> {
    return services.liveRoles.add(tenant, input.appId, input.username, input.role);
  }

  @Mutation(() => LiveRolePayload, { description: 'deleterole (role quota).' })
  deleteLiveRole(@Arg('input', () => LiveRoleInput) input: LiveRoleInput, @Ctx() { tenant, services }: GraphqlContext): Promise<LiveRolePayload> {
    return services.liveRoles.delete(tenant, input.appId, input.username, input.role);
  }
}
