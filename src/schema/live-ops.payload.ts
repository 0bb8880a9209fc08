import 'reflect-metadata';
import { Field, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar } from './date-time.scalar.js';
import { LiveGoods } from './live-goods.type.js';
import { LiveRoom } from './live-room.type.js';
import { UserError } from './user-error.type.js';

@ObjectType({ simpleResolvers: true })
export class LiveRoomPayload {
  @Field(() => LiveRoom, { nullable: true })
  room!: LiveRoom | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class DeleteLiveRoomPayload {
  @Field(() => Int, { nullable: true })
  deletedRoomId!: number | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class LiveGoodsPayload {
  @Field(() => LiveGoods, { nullable: true })
  goods!: LiveGoods | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class DeleteLiveGoodsPayload {
  @Field(() => Int, { nullable: true })
  deletedGoodsId!: number | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class LiveRolePayload {
  @Field(() => Boolean, { description: 'WeChat accepted it.' })
  ok!: boolean;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true, description: 'A temporary media at WeChat: pass mediaId to createLiveRoom or addLiveGoods before expiresAt.' })
export class LiveImage {
  @Field(() => String)
  mediaId!: string;

  @Field(() => DateTimeScalar, { description: 'Three days after the upload.' })
  expiresAt!: Date;

  @Field(() => Int)
  bytes!: number;

  @Field(() => String)
  contentType!: string;
}

@ObjectType({ simpleResolvers: true })
export class UploadLiveImagePayload {
  @Field(() => LiveImage, { nullable: true })
  image!: LiveImage | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class LiveRoomPushUrlPayload {
  @Field(() => String, { nullable: true, description: 'The RTMP address for push rooms (type PUSH).' })
  pushUrl!: string | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class LiveRoomShareCode {
  @Field(() => String)
  cdnUrl!: string;

  @Field(() => String)
  pagePath!: string;

  @Field(() => String)
  posterUrl!: string;
}

@ObjectType({ simpleResolvers: true })
export class LiveRoomShareCodePayload {
  @Field(() => LiveRoomShareCode, { nullable: true })
  shareCode!: LiveRoomShareCode | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class LiveRoomAssistant {
  @Field(() => String, { description: 'WeChat id (微信号), as WeChat shows it.' })
  username!: string;

  @Field(() => String)
  nickname!: string;

  @Field(() => String)
  openid!: string;
}

@ObjectType({ simpleResolvers: true, description: "A room's assistants, read through WeChat (room quota)." })
export class LiveRoomAssistantsPayload {
  @Field(() => [LiveRoomAssistant])
  assistants!: LiveRoomAssistant[];

  @Field(() => Int, { description: 'How many WeChat allows in this room.' })
  maxCount!: number;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class LiveRoomAssistantChangePayload {
  @Field(() => Boolean, { description: 'WeChat accepted it.' })
  ok!: boolean;

  @Field(() => [UserError])
  userErrors!: UserError[];
}
