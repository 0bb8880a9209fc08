import 'reflect-metadata';
import { Field, Float, Int, ObjectType, registerEnumType } from 'type-graphql';
import { LIVE_GOODS_AUDIT_STATUSES, type LiveGoodsAuditStatus as Status } from '../db/tables.js';
import { DateTimeScalar } from './date-time.scalar.js';
import { PageInfo } from './page-info.type.js';

export const LiveGoodsAuditStatus = Object.fromEntries(LIVE_GOODS_AUDIT_STATUSES.map((s) => [s, s])) as { [S in Status]: S };

registerEnumType(LiveGoodsAuditStatus, {
  name: 'LiveGoodsAuditStatus',
  description: "A good's audit_status at WeChat.",
  valuesConfig: {
    NOT_SUBMITTED: { description: '0: not submitted (or withdrawn with resetLiveGoodsAudit).' },
    AUDITING: { description: '1: under audit; frozen until WeChat decides.' },
    APPROVED: { description: '2: approved; may be added to rooms, and only its price may change.' },
    REJECTED: { description: '3: rejected; edit it and resubmit.' },
  },
});

@ObjectType({ simpleResolvers: true, description: "A good in the merchant's live goods warehouse, from the gateway's mirror." })
export class LiveGoods {
  @Field(() => Int, { description: "WeChat's goodsId." })
  goodsId!: number;

  @Field(() => String)
  appId!: string;

  @Field(() => Int, { nullable: true, description: "WeChat's auditId of the latest submission (resetLiveGoodsAudit needs it)." })
  auditId!: number | null;

  @Field(() => String)
  name!: string;

  @Field(() => String, { description: 'The cover: a media id until WeChat lists its URL.' })
  coverImgUrl!: string;

  @Field(() => String, { description: 'The Mini Program page the good opens.' })
  url!: string;

  @Field(() => Int, { description: '1 fixed price, 2 range price–price2, 3 discounted from price to price2.' })
  priceType!: number;

  @Field(() => Float, { description: 'Yuan.' })
  price!: number;

  @Field(() => Float, { nullable: true, description: 'Yuan; priceType 2 and 3 only.' })
  price2!: number | null;

  @Field(() => LiveGoodsAuditStatus)
  auditStatus!: Status;

  @Field(() => Boolean, { description: 'Deleted at WeChat.' })
  removed!: boolean;

  @Field(() => DateTimeScalar)
  syncedAt!: Date;

  @Field(() => DateTimeScalar)
  updatedAt!: Date;
}

@ObjectType({ simpleResolvers: true })
export class LiveGoodsEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => LiveGoods)
  node!: LiveGoods;
}

@ObjectType({ simpleResolvers: true, description: 'Goods, newest first (Relay connection).' })
export class LiveGoodsConnection {
  @Field(() => [LiveGoodsEdge])
  edges!: LiveGoodsEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
