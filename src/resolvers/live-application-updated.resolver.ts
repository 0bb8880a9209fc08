import 'reflect-metadata';
import { Arg, ID, Resolver, Root, type SubscribeResolverData, Subscription } from 'type-graphql';
import type { ApplicationChange } from '../events/change-feed.js';
import type { FeedFilter } from '../graphql/application-feed.js';
import type { GraphqlContext } from '../graphql/context.js';
import { LiveApplication } from '../schema/live-application.type.js';
import type { LiveApplicationView } from '../services/live-application/index.js';

@Resolver()
export class LiveApplicationUpdatedResolver {
  @Subscription(() => LiveApplication, {
    description: "Every change of the caller's applications, from any instance or worker; `after` resumes from a delivered `cursor`.",
    subscribe: ({ args, context }: SubscribeResolverData<unknown, FeedFilter, GraphqlContext>) => context.services.feed.subscribe(context.tenant, args),
  })
  liveApplicationUpdated(
    @Root() change: ApplicationChange,
    @Arg('appId', () => String, { nullable: true }) _appId: string | null,
    @Arg('id', () => ID, { nullable: true }) _id: string | null,
    @Arg('after', () => String, { nullable: true, description: 'Replay every change after this cursor, then go live.' }) _after: string | null,
  ): LiveApplicationView & { cursor: string } {
    return { ...change.application, cursor: change.cursor };
  }
}
