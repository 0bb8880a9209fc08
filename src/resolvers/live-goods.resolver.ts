import 'reflect-metadata';
import { Arg, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../graphql/context.js';
import type { LiveGoodsAuditStatus as Status } from '../db/tables.js';
import { LiveGoodsAuditStatus, LiveGoodsConnection } from '../schema/live-goods.type.js';
import { AddLiveGoodsInput, UpdateLiveGoodsInput } from '../schema/live-ops.input.js';
import { DeleteLiveGoodsPayload, LiveGoodsPayload } from '../schema/live-ops.payload.js';
import { type GoodsResult, LiveGoodsService } from '../services/live-ops/live-goods.service.js';
import type { LiveGoodsView } from '../services/live-ops/live-mirror.js';
import { type Connection, toKeysetConnection } from './connection.js';

@Resolver()
export class LiveGoodsResolver {
  @Query(() => LiveGoodsConnection, {
    description: "A merchant's goods, newest first, from the mirror; refresh: true reads every audit status through WeChat first (goods_read quota).",
  })
  async liveGoods(
    @Arg('appId', () => String) appId: string,
    @Arg('auditStatus', () => LiveGoodsAuditStatus, { nullable: true }) auditStatus: Status | null,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, 20 by default, at most 100.' }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('refresh', () => Boolean, { nullable: true, defaultValue: false }) refresh: boolean,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<Connection<LiveGoodsView>> {
    const page = await services.liveGoods.list(tenant, appId, { auditStatus, first, after, refresh });
    return toKeysetConnection(page, LiveGoodsService.cursorOf, after);
  }

  @Mutation(() => LiveGoodsPayload, {
    description: 'goods/add: kept and submitted for audit; its goodsId and auditId are kept (goods_audit quota, 500 a day).',
  })
  addLiveGoods(@Arg('input', () => AddLiveGoodsInput) input: AddLiveGoodsInput, @Ctx() { tenant, services }: GraphqlContext): Promise<GoodsResult> {
    return services.liveGoods.add(tenant, input);
  }

  @Mutation(() => LiveGoodsPayload, { description: 'goods/update (goods_write quota): an approved good only changes its price.' })
  updateLiveGoods(@Arg('input', () => UpdateLiveGoodsInput) input: UpdateLiveGoodsInput, @Ctx() { tenant, services }: GraphqlContext): Promise<GoodsResult> {
    return services.liveGoods.update(tenant, input);
  }

  @Mutation(() => LiveGoodsPayload, { description: 'Withdraws an auditing good from audit (goods_write quota).' })
  resetLiveGoodsAudit(
    @Arg('appId', () => String) appId: string,
    @Arg('goodsId', () => Int) goodsId: number,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<GoodsResult> {
    return services.liveGoods.resetAudit(tenant, appId, goodsId);
  }

  @Mutation(() => LiveGoodsPayload, { description: 'Submits a good not submitted or rejected for audit again (goods_audit quota).' })
  resubmitLiveGoodsAudit(
    @Arg('appId', () => String) appId: string,
    @Arg('goodsId', () => Int) goodsId: number,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<GoodsResult> {
    return services.liveGoods.resubmitAudit(tenant, appId, goodsId);
  }

  @Mutation(() => DeleteLiveGoodsPayload, { description: 'goods/delete (goods_write quota); not while auditing.' })
  deleteLiveGoods(
    @Arg('appId', () => String) appId: string,
    @Arg('goodsId', () => Int) goodsId: number,
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<DeleteLiveGoodsPayload> {
    return services.liveGoods.delete(tenant, appId, goodsId);
  }
}
