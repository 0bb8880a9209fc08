import 'reflect-metadata';
import { Field, Float, Int, ObjectType, registerEnumType } from 'type-graphql';
import { LIVE_ROOM_STATUSES, type LiveRoomStatus as Status } from '../db/tables.js';
import { DateTimeScalar } from './date-time.scalar.js';
import { PageInfo } from './page-info.type.js';
import { UserError } from './user-error.type.js';

export const LiveRoomStatus = Object.fromEntries(LIVE_ROOM_STATUSES.map((s) => [s, s])) as { [S in Status]: S };

registerEnumType(LiveRoomStatus, {
  name: 'LiveRoomStatus',
  description: "A room's live_status as WeChat reports it (getliveinfo).",
  valuesConfig: {
    LIVE: { description: '101: live now.' },
    NOT_STARTED: { description: '102: not started yet.' },
    ENDED: { description: '103: ended.' },
    BANNED: { description: '104: banned by WeChat.' },
    PAUSED: { description: '105: paused.' },
    ERROR: { description: '106: in error (also any code WeChat adds later).' },
    EXPIRED: { description: '107: expired without going live.' },
  },
});

@ObjectType({ simpleResolvers: true, description: 'A good in a room, as the room list shows it.' })
export class LiveRoomGoods {
  @Field(() => Int)
  goodsId!: number;

  @Field(() => String)
  name!: string;

  @Field(() => String)
  coverImg!: string;

  @Field(() => String, { description: 'The Mini Program page the good opens.' })
  url!: string;

  @Field(() => Int, { description: '1 fixed price, 2 range price–price2, 3 discounted from price to price2.' })
  priceType!: number;

  @Field(() => Float, { description: 'Yuan.' })
  price!: number;

  @Field(() => Float, { nullable: true, description: 'Yuan; priceType 2 and 3 only.' })
  price2!: number | null;
}

@ObjectType({ simpleResolvers: true, description: 'One recording of a room (getliveinfo action get_replay).' })
export class LiveReplay {
  @Field(() => String)
  mediaUrl!: string;

  @Field(() => String, { description: 'As WeChat gives it.' })
  createTime!: string;

  @Field(() => String, { description: 'As WeChat gives it: WeChat keeps replays for a limited time.' })
  expireTime!: string;
}

@ObjectType({ simpleResolvers: true, description: 'Replays of a room, read through WeChat (one live_info call per 100).' })
export class LiveReplayList {
  @Field(() => [LiveReplay])
  items!: LiveReplay[];

  @Field(() => Int, { description: 'How many WeChat says the room has.' })
  total!: number;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true, description: 'The switches of a room (0 off, 1 on), as WeChat reports them.' })
export class LiveRoomSettings {
  @Field(() => Int, { description: '0 phone, 1 push (OBS etc.).' })
  liveType!: number;

  @Field(() => Int)
  closeLike!: number;

  @Field(() => Int)
  closeGoods!: number;

  @Field(() => Int)
  closeComment!: number;

  @Field(() => Int)
  closeReplay!: number;

  @Field(() => Int)
  closeKf!: number;

  @Field(() => Int)
  isFeedsPublic!: number;
}

@ObjectType({
  description: "A merchant's live room, from the gateway's mirror of WeChat's room list (kept fresh by the sync loop; `syncedAt` says when it was last read).",
})
export class LiveRoom {
  @Field(() => Int)
  roomId!: number;

  @Field(() => String)
  appId!: string;

  @Field(() => String)
  name!: string;

  @Field(() => LiveRoomStatus)
  status!: Status;

  @Field(() => Int, { description: "WeChat's live_status (101–107), verbatim." })
  liveStatusCode!: number;

  @Field(() => DateTimeScalar)
  startTime!: Date;

  @Field(() => DateTimeScalar)
  endTime!: Date;

  @Field(() => String)
  anchorName!: string;

  @Field(() => String, { description: 'Image URL as WeChat lists it.' })
  coverImg!: string;

  @Field(() => String)
  shareImg!: string;

  @Field(() => String)
  feedsImg!: string;

  @Field(() => LiveRoomSettings)
  settings!: LiveRoomSettings;

  @Field(() => [LiveRoomGoods])
  goods!: LiveRoomGoods[];

  @Field(() => Boolean, { description: "The room left WeChat's list (deleted at WeChat or through the gateway)." })
  removed!: boolean;

  @Field(() => DateTimeScalar, { description: 'When the gateway last read it from WeChat.' })
  syncedAt!: Date;

  @Field(() => DateTimeScalar)
  updatedAt!: Date;
}

@ObjectType({ simpleResolvers: true })
export class LiveRoomEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => LiveRoom)
  node!: LiveRoom;
}

@ObjectType({ simpleResolvers: true, description: 'Rooms newest start time first (Relay connection).' })
export class LiveRoomConnection {
  @Field(() => [LiveRoomEdge])
  edges!: LiveRoomEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
