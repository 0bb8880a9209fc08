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
}
