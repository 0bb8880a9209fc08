import 'reflect-metadata';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar } from './date-time.scalar.js';
import { PageInfo } from './page-info.type.js';

@ObjectType({ simpleResolvers: true, description: "Today's use of one WeChat live API quota group by one merchant (days start 00:00 UTC+8)." })
export class LiveApiQuota {
  @Field(() => String, { description: 'room, live_info, goods_audit (goods add and audit share it), goods_write, goods_read, role, media.' })
  group!: string;

  @Field(() => Int)
  dailyLimit!: number;

  @Field(() => Int)
  used!: number;

  @Field(() => Int)
  remaining!: number;

  @Field(() => Boolean, { description: 'WeChat answered 45009 today: nothing left, whatever the count says.' })
  spent!: boolean;

  @Field(() => DateTimeScalar)
  resetsAt!: string;
}

@ObjectType({ simpleResolvers: true, description: 'One live API call in the audit trail: who asked, what, and what WeChat answered.' })
export class LiveApiCall {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  appId!: string;

  @Field(() => String, { description: "The endpoint's short name (room_create, goods_add, ...)." })
  endpoint!: string;

  @Field(() => String)
  quotaGroup!: string;

  @Field(() => String, { description: 'The GraphQL operation or job that asked.' })
  operation!: string;

  @Field(() => String, { nullable: true, description: 'The API key id (null for the sync loop).' })
  apiKeyId!: string | null;

  @Field(() => String, { nullable: true })
  requestId!: string | null;

  @Field(() => String, { description: 'What was asked, as JSON (no image bytes, no tokens).' })
  request!: string;

  @Field(() => String, { description: 'OK, ERRCODE, FAILED (no answer), QUOTA_REFUSED (not sent).' })
  outcome!: string;

  @Field(() => Int, { nullable: true })
  errcode!: number | null;

  @Field(() => String, { nullable: true })
  errmsg!: string | null;

  @Field(() => Int, { nullable: true })
  latencyMs!: number | null;

  @Field(() => DateTimeScalar)
  createdAt!: Date;
}

@ObjectType({ simpleResolvers: true })
export class LiveApiCallEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => LiveApiCall)
  node!: LiveApiCall;
}

@ObjectType({ simpleResolvers: true, description: 'The audit trail, newest first.' })
export class LiveApiCallConnection {
  @Field(() => [LiveApiCallEdge])
  edges!: LiveApiCallEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
