import 'reflect-metadata';
import { Field, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar } from './date-time.scalar.js';

@ObjectType({ simpleResolvers: true, description: "Today's applyliveinfo quota for one merchant (days start 00:00 UTC+8)." })
export class Quota {
  @Field(() => String)
  appId!: string;

  @Field(() => Int)
  dailyLimit!: number;

  @Field(() => Int)
  used!: number;

  @Field(() => Int, { description: "Calls left today: 0 once WeChat answered 45009 or the tenant's day is spent." })
  remaining!: number;

  @Field(() => DateTimeScalar, { description: 'The next 00:00 UTC+8.' })
  resetsAt!: string;

  @Field(() => Int, { nullable: true, description: 'The tenant-wide daily limit; null = unlimited.' })
  tenantDailyLimit!: number | null;

  @Field(() => Int)
  tenantUsed!: number;

  @Field(() => Boolean, {
    description:
      'True while WeChat grants no new live permissions (errcode 268489001, WeChat-wide): applyliveinfo is not called for any merchant, and new applications stay QUEUED with errorCode LIVE_GRANTS_PAUSED until a probe finds grants open again.',
  })
  liveGrantsPaused!: boolean;

  @Field(() => DateTimeScalar, { nullable: true, description: 'While paused: when the gateway probes WeChat with one call again.' })
  liveGrantsPausedUntil!: string | null;

  @Field(() => String, { nullable: true, description: "While paused: WeChat's errmsg, verbatim." })
  liveGrantsErrmsg!: string | null;
}
