import 'reflect-metadata';
import { Arg, Resolver, Root, type SubscribeResolverData, Subscription } from 'type-graphql';
import type { GraphqlContext } from '../graphql/context.js';
import { LiveRoomEvent } from '../schema/live-room-event.type.js';
import type { LiveEventFilter } from '../services/live-ops/live-events.service.js';
import type { LiveEventView } from '../services/live-ops/live-mirror.js';

@Resolver()
export class LiveRoomUpdatedResolver {
  @Subscription(() => LiveRoomEvent, {
    description:
      "Every change of the caller's live rooms (status) and goods (audit status) the sync loop or a live mutation saw, from any instance; `after` resumes from a delivered `cursor`.",
    subscribe: ({ args, context }: SubscribeResolverData<unknown, LiveEventFilter, GraphqlContext>) =>
      context.services.liveRoomFeed.subscribe(context.tenant, args),
  })
  liveRoomUpdated(
    @Root() event: LiveEventView,
    @Arg('appId', () => String, { nullable: true, description: 'Only this merchant.' }) _appId: string | null,
    @Arg('after', () => String, { nullable: true, description: 'Replay every event after this cursor, then go live.' }) _after: string | null,
  ): LiveRoomEvent {
    const { previousStatus, ...subject } = event.data as Record<string, unknown> & { previousStatus?: string | null };
    const isRoom = event.type === 'live_room.updated';
    return {
      cursor: event.cursor,
      type: event.type,
      appId: event.appId,
      // The data holds the subject as the API shows it (timestamps as ISO strings, which DateTime passes through).
      room: isRoom ? (subject as unknown as LiveRoomEvent['room']) : null,
      goods: isRoom ? null : (subject as unknown as LiveRoomEvent['goods']),
      previousStatus: previousStatus ?? null,
      createdAt: event.createdAt,
    };
  }
}
