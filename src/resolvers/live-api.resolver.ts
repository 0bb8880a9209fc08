import 'reflect-metadata';
import { Arg, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../graphql/context.js';
import { LiveApiCallConnection, LiveApiQuota } from '../schema/live-api.type.js';
import { UploadLiveImageInput } from '../schema/live-ops.input.js';
import { UploadLiveImagePayload } from '../schema/live-ops.payload.js';
import type { ApiQuotaUsage, LiveApiCallView } from '../services/live-ops/live-calls.js';
import { type Connection, toKeysetConnection } from './connection.js';

@Resolver()
export class LiveApiResolver {
  @Query(() => [LiveApiQuota], { description: "Today's use of each live API quota group by one merchant." })
  liveApiQuota(@Arg('appId', () => String) appId: string, @Ctx() { tenant, services }: GraphqlContext): Promise<ApiQuotaUsage[]> {
    return services.liveApi.quota(tenant, appId);
  }

  @Query(() => LiveApiCallConnection, { description: "The merchant's live API audit trail, newest first: who asked, what, WeChat's answer, latency." })
  async liveApiCalls(
    @Arg('appId', () => String) appId: string,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, 20 by default, at most 100.' }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<Connection<Omit<LiveApiCallView, 'request'> & { request: string }>> {
    const page = await services.liveApi.history(tenant, appId, { first, after });
    return toKeysetConnection({ ...page, items: page.items.map((c) => ({ ...c, request: JSON.stringify(c.request) })) }, (c) => c.id, after);
  }

  @Mutation(() => UploadLiveImagePayload, { description: 'Hands an image to WeChat as temporary media (media quota); the mediaId lasts 3 days.' })
  uploadLiveImage(
    @Arg('input', () => UploadLiveImageInput) input: UploadLiveImageInput,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<UploadLiveImagePayload> {
    return services.liveMedia.upload(tenant, input);
  }
}
