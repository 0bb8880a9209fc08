import 'reflect-metadata';
import { Field, Float, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar } from './date-time.scalar.js';
import { LiveRoom } from './live-room.type.js';

@ObjectType({ simpleResolvers: true, description: 'A good as a live_goods.updated event shows it: its audit status after the change.' })
export class LiveRoomEventGoods {
  @Field(() => String)
  appId!: string;

  @Field(() => Int)
  goodsId!: number;

  @Field(() => Int, { nullable: true, description: "WeChat's audit id of the last submission." })
  auditId!: number | null;

  @Field(() => String)
  name!: string;

  @Field(() => String, { description: 'NOT_SUBMITTED, AUDITING, APPROVED or REJECTED.' })
  auditStatus!: string;

  @Field(() => Int)
  priceType!: number;

  @Field(() => Float, { description: 'Yuan.' })
  price!: number;

  @Field(() => Float, { nullable: true })
  price2!: number | null;

  @Field(() => Boolean, { description: 'Deleted at WeChat or through the gateway.' })
  removed!: boolean;
}

@ObjectType({
  simpleResolvers: true,
  description:
    "One change the gateway saw of a merchant's room (status 101–107, appeared, removed) or good (audit status): the row of live_events, the same change the webhook live_room.updated / live_goods.updated carries.",
})
export class LiveRoomEvent {
  @Field(() => String, { description: 'Resume with liveRoomUpdated(after: cursor); also the `cursor` of the webhook event data. Grows per tenant.' })
  cursor!: string;

  @Field(() => String, { description: 'live_room.updated or live_goods.updated.' })
  type!: string;

  @Field(() => String)
  appId!: string;

  @Field(() => LiveRoom, { nullable: true, description: 'The room after the change (live_room.updated).' })
  room!: LiveRoom | null;

  @Field(() => LiveRoomEventGoods, { nullable: true, description: 'The good after the change (live_goods.updated).' })
  goods!: LiveRoomEventGoods | null;

  @Field(() => String, {
    nullable: true,
    description: 'The status before: a LiveRoomStatus or audit status, REMOVED for a room that came back, null when first seen.',
  })
  previousStatus!: string | null;

  @Field(() => DateTimeScalar)
  createdAt!: Date;
}
