import 'reflect-metadata';
import { Arg, Ctx, FieldResolver, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { GraphqlContext } from '../graphql/context.js';
import { AddGoodsToLiveRoomInput, AddLiveRoomAssistantsInput, CreateLiveRoomInput, EditLiveRoomInput } from '../schema/live-ops.input.js';
import {
  DeleteLiveRoomPayload,
  LiveRoomAssistantChangePayload,
  LiveRoomAssistantsPayload,
  LiveRoomPayload,
  LiveRoomPushUrlPayload,
  LiveRoomShareCodePayload,
} from '../schema/live-ops.payload.js';
import { LiveReplayList, LiveRoom, LiveRoomConnection } from '../schema/live-room.type.js';
import type { LiveRoomView } from '../services/live-ops/live-mirror.js';
import type { RoomResult } from '../services/live-ops/live-rooms.service.js';
import { LiveRoomsService } from '../services/live-ops/live-rooms.service.js';
import { type Connection, toKeysetConnection } from './connection.js';

@Resolver(() => LiveRoom)
export class LiveRoomResolver {
  @Query(() => LiveRoomConnection, {
    description: "A merchant's rooms, newest start first, from the mirror (no WeChat quota); refresh: true reads WeChat's list first (live_info quota).",
  })
  async liveRooms(
    @Arg('appId', () => String) appId: string,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, 20 by default, at most 100.' }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('refresh', () => Boolean, { nullable: true, defaultValue: false }) refresh: boolean,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<Connection<LiveRoomView>> {
    const page = await services.liveRooms.list(tenant, appId, { first, after, refresh });
    return toKeysetConnection(page, LiveRoomsService.cursorOf, after);
  }

  @Query(() => LiveRoom, { nullable: true, description: 'One room from the mirror (removed ones too); null when the gateway never saw it.' })
  liveRoom(
    @Arg('appId', () => String) appId: string,
    @Arg('roomId', () => Int) roomId: number,
    @Arg('refresh', () => Boolean, { nullable: true, defaultValue: false }) refresh: boolean,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<LiveRoomView | null> {
    return services.liveRooms.get(tenant, appId, roomId, refresh);
  }

  @Query(() => LiveRoomPushUrlPayload, { description: 'The RTMP push address of a push room (room quota).' })
  async liveRoomPushUrl(
    @Arg('appId', () => String) appId: string,
    @Arg('roomId', () => Int) roomId: number,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<LiveRoomPushUrlPayload> {
    const r = await services.liveRooms.pushUrl(tenant, appId, roomId);
    return r.ok ? { pushUrl: r.value, userErrors: [] } : { pushUrl: null, userErrors: [r.error] };
  }

  @Query(() => LiveRoomShareCodePayload, { description: "The room's share code and poster (room quota)." })
  async liveRoomShareCode(
    @Arg('appId', () => String) appId: string,
    @Arg('roomId', () => Int) roomId: number,
    @Arg('params', () => String, { nullable: true, description: 'Custom parameters the room page receives.' }) params: string | null,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<LiveRoomShareCodePayload> {
    const r = await services.liveRooms.sharedCode(tenant, appId, roomId, params);
    return r.ok ? { shareCode: r.value, userErrors: [] } : { shareCode: null, userErrors: [r.error] };
  }

  @Query(() => LiveRoomAssistantsPayload, { description: "A room's assistants, read through WeChat (room quota)." })
  async liveRoomAssistants(
    @Arg('appId', () => String) appId: string,
    @Arg('roomId', () => Int) roomId: number,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<LiveRoomAssistantsPayload> {
    const r = await services.liveRooms.assistants(tenant, appId, roomId);
    return r.ok ? { assistants: r.value.list, maxCount: r.value.maxCount, userErrors: [] } : { assistants: [], maxCount: 0, userErrors: [r.error] };
  }

  @Mutation(() => LiveRoomAssistantChangePayload, { description: 'addassistant (room quota).' })
  async addLiveRoomAssistants(
    @Arg('input', () => AddLiveRoomAssistantsInput) input: AddLiveRoomAssistantsInput,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<LiveRoomAssistantChangePayload> {
    const userErrors = await services.liveRooms.addAssistants(tenant, input.appId, input.roomId, input.users);
    return { ok: userErrors.length === 0, userErrors };
  }

  @Mutation(() => LiveRoomAssistantChangePayload, { description: 'removeassistant (room quota).' })
  async removeLiveRoomAssistant(
    @Arg('appId', () => String) appId: string,
    @Arg('roomId', () => Int) roomId: number,
    @Arg('username', () => String) username: string,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<LiveRoomAssistantChangePayload> {
    const userErrors = await services.liveRooms.removeAssistant(tenant, appId, roomId, username);
    return { ok: userErrors.length === 0, userErrors };
  }

  @FieldResolver(() => LiveReplayList, { description: "The room's replays, read through WeChat when asked for (live_info quota)." })
  async replays(@Root() room: LiveRoomView, @Ctx() { tenant, services }: GraphqlContext): Promise<LiveReplayList> {
    const r = await services.liveRooms.replays(tenant, room.appId, room.roomId);
    return r.ok ? { ...r.value, userErrors: [] } : { items: [], total: 0, userErrors: [r.error] };
  }

  @Mutation(() => LiveRoomPayload, { description: 'createroom (room quota): images are mediaIds from uploadLiveImage.' })
  createLiveRoom(@Arg('input', () => CreateLiveRoomInput) input: CreateLiveRoomInput, @Ctx() { tenant, services }: GraphqlContext): Promise<RoomResult> {
    return services.liveRooms.create(tenant, input);
  }

  @Mutation(() => LiveRoomPayload, { description: 'editroom (room quota): only before the room starts.' })
  editLiveRoom(@Arg('input', () => EditLiveRoomInput) input: EditLiveRoomInput, @Ctx() { tenant, services }: GraphqlContext): Promise<RoomResult> {
    return services.liveRooms.edit(tenant, input.roomId, input);
  }

  @Mutation(() => DeleteLiveRoomPayload, { description: 'deleteroom (room quota); not while live.' })
  deleteLiveRoom(
    @Arg('appId', () => String) appId: string,
    @Arg('roomId', () => Int) roomId: number,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<DeleteLiveRoomPayload> {
    return services.liveRooms.delete(tenant, appId, roomId);
  }

  @Mutation(() => LiveRoomPayload, { description: 'Adds approved goods to a room (room quota).' })
  addGoodsToLiveRoom(
    @Arg('input', () => AddGoodsToLiveRoomInput) input: AddGoodsToLiveRoomInput,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<RoomResult> {
    return services.liveRooms.addGoods(tenant, input.appId, input.roomId, input.goodsIds);
  }
}
