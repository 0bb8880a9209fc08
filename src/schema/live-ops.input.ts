import 'reflect-metadata';
import { Field, Float, InputType, Int, registerEnumType } from 'type-graphql';
import { DateTimeScalar } from './date-time.scalar.js';
import { LiveRole } from './live-role.type.js';

export const LiveRoomType = { PHONE: 'PHONE', PUSH: 'PUSH' } as const;
registerEnumType(LiveRoomType, {
  name: 'LiveRoomType',
  valuesConfig: { PHONE: { description: 'Broadcast from the phone (WeChat type 0).' }, PUSH: { description: 'Push stream, OBS and the like (type 1).' } },
});

export const LiveScreenType = { PORTRAIT: 'PORTRAIT', LANDSCAPE: 'LANDSCAPE' } as const;
registerEnumType(LiveScreenType, { name: 'LiveScreenType' });

@InputType({ description: "A room, with WeChat's rules: start ≥ 10 minutes ahead and within 6 months; 30 minutes ≤ length ≤ 24 hours." })
export class CreateLiveRoomInput {
  @Field(() => String)
  appId!: string;

  @Field(() => String, { description: '3 to 17 Chinese characters (a Latin character counts half).' })
  name!: string;

  @Field(() => String, { description: 'Background image: a mediaId from uploadLiveImage (1080×1920 advised).' })
  coverMediaId!: string;

  @Field(() => String, { description: 'Share card image: a mediaId (800×640 advised).' })
  shareMediaId!: string;

  @Field(() => String, { nullable: true, description: 'Feeds cover: a mediaId (800×800 advised); defaults to the share image.' })
  feedsMediaId?: string | null;

  @Field(() => DateTimeScalar, { description: 'Whole seconds.' })
  startTime!: Date;

  @Field(() => DateTimeScalar, { description: 'Whole seconds.' })
  endTime!: Date;

  @Field(() => String, { description: '2 to 15 Chinese characters.' })
  anchorName!: string;

  @Field(() => String, { description: "The anchor's WeChat id (微信号); they must have verified their real name in 小程序直播." })
  anchorWechat!: string;

  @Field(() => String, { nullable: true })
  subAnchorWechat?: string | null;

  @Field(() => String, { nullable: true, description: "The creator's WeChat id; defaults to the anchor's at WeChat." })
  createrWechat?: string | null;

  @Field(() => LiveRoomType, { nullable: true, defaultValue: 'PHONE' })
  type?: 'PHONE' | 'PUSH' | null;

  @Field(() => LiveScreenType, { nullable: true, defaultValue: 'PORTRAIT' })
  screenType?: 'PORTRAIT' | 'LANDSCAPE' | null;

  @Field(() => Boolean, { nullable: true, defaultValue: false })
  closeLike?: boolean | null;

  @Field(() => Boolean, { nullable: true, defaultValue: false })
  closeGoods?: boolean | null;

  @Field(() => Boolean, { nullable: true, defaultValue: false })
  closeComment?: boolean | null;

  @Field(() => Boolean, { nullable: true, defaultValue: false })
  closeReplay?: boolean | null;

  @Field(() => Boolean, { nullable: true, defaultValue: false })
  closeShare?: boolean | null;

  @Field(() => Boolean, { nullable: true, defaultValue: false, description: 'true unless customer service is configured (errcode 300038 otherwise).' })
  closeKf?: boolean | null;

  @Field(() => Boolean, { nullable: true, defaultValue: true, description: 'Shown in the official feeds.' })
  isFeedsPublic?: boolean | null;
}

@InputType({ description: 'editroom: every field again; only a room that has not started can be edited.' })
export class EditLiveRoomInput extends CreateLiveRoomInput {
  @Field(() => Int)
  roomId!: number;
}

@InputType()
export class AddGoodsToLiveRoomInput {
  @Field(() => String)
  appId!: string;

  @Field(() => Int)
  roomId!: number;

  @Field(() => [Int], { description: 'Approved goods, 1 to 200 per call.' })
  goodsIds!: number[];
}

@InputType({ description: 'goods/add: the good is kept and submitted for audit at once (goods add and audit share 500 calls a day).' })
export class AddLiveGoodsInput {
  @Field(() => String)
  appId!: string;

  @Field(() => String, { description: '3 to 14 Chinese characters.' })
  name!: string;

  @Field(() => String, { description: 'A mediaId from uploadLiveImage (300×300 advised).' })
  coverMediaId!: string;

  @Field(() => String, { description: 'The Mini Program page the good opens, e.g. pages/goods/detail?id=1.' })
  url!: string;

  @Field(() => Int, { description: '1 fixed price, 2 range price–price2, 3 discounted from price (was) to price2 (now).' })
  priceType!: 1 | 2 | 3;

  @Field(() => Float, { description: 'Yuan, two decimals.' })
  price!: number;

  @Field(() => Float, { nullable: true })
  price2?: number | null;

  @Field(() => String, { nullable: true, description: 'When url is a page of another Mini Program.' })
  thirdPartyAppid?: string | null;
}

@InputType({ description: 'goods/update: an approved good may change only priceType, price and price2; an auditing one nothing.' })
export class UpdateLiveGoodsInput {
  @Field(() => String)
  appId!: string;

  @Field(() => Int)
  goodsId!: number;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  coverMediaId?: string | null;

  @Field(() => String, { nullable: true })
  url?: string | null;

  @Field(() => Int, { nullable: true })
  priceType?: 1 | 2 | 3 | null;

  @Field(() => Float, { nullable: true })
  price?: number | null;

  @Field(() => Float, { nullable: true })
  price2?: number | null;
}

@InputType()
export class LiveRoleInput {
  @Field(() => String)
  appId!: string;

  @Field(() => String, { description: 'WeChat id (微信号).' })
  username!: string;

  @Field(() => LiveRole)
  role!: 'ADMIN' | 'ANCHOR' | 'OPERATOR';
}

@InputType({ description: 'An image for a room or a good: exactly one of imageUrl and dataBase64; at most 2 MiB, JPEG, PNG, GIF or BMP.' })
export class UploadLiveImageInput {
  @Field(() => String)
  appId!: string;

  @Field(() => String, { nullable: true, description: 'https URL the gateway fetches (public addresses only; no redirects).' })
  imageUrl?: string | null;

  @Field(() => String, { nullable: true, description: 'The bytes in base64 (bounded by the request body limit, 1 MiB by default).' })
  dataBase64?: string | null;
}

@InputType()
export class LiveRoomAssistantInput {
  @Field(() => String, { description: 'WeChat id (微信号).' })
  username!: string;

  @Field(() => String, { description: 'The name shown in the room.' })
  nickname!: string;
}

@InputType()
export class AddLiveRoomAssistantsInput {
  @Field(() => String)
  appId!: string;

  @Field(() => Int)
  roomId!: number;

  @Field(() => [LiveRoomAssistantInput])
  users!: LiveRoomAssistantInput[];
}
