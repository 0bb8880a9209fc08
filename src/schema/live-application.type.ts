import 'reflect-metadata';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { ErrorCode } from './error-code.enum.js';
import { DateTimeScalar } from './date-time.scalar.js';
import { LiveApplicationEvent } from './live-application-event.type.js';
import { LiveApplicationStatus } from './live-application-status.enum.js';

@ObjectType({ simpleResolvers: true, description: 'One attempt to open live broadcasting for one merchant Mini Program.' })
export class LiveApplication {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: 'The merchant Mini Program (authorizer) app id.' })
  appId!: string;

  @Field(() => LiveApplicationStatus)
  status!: string;

  @Field(() => Int, { nullable: true, description: "WeChat's last errcode, verbatim." })
  errcode!: number | null;

  @Field(() => String, { nullable: true, description: "WeChat's last errmsg, verbatim." })
  errmsg!: string | null;

  @Field(() => ErrorCode, {
    nullable: true,
    description:
      'Our stable code for the outcome (NOT_PAID_90_DAYS, PERMISSION_NOT_GRANTED, ...), or why a QUEUED application waits (LIVE_GRANTS_PAUSED, DAILY_QUOTA_REACHED).',
  })
  errorCode!: string | null;

  @Field(() => Int, { description: 'applyliveinfo calls made so far.' })
  attempts!: number;

  @Field(() => String, { nullable: true })
  idempotencyKey!: string | null;

  @Field(() => DateTimeScalar)
  createdAt!: string;

  @Field(() => DateTimeScalar, { nullable: true })
  submittedAt!: string | null;

  @Field(() => DateTimeScalar, { nullable: true })
  openedAt!: string | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'SUBMITTED + 24 h: the admin must accept before then.' })
  expiresAt!: string | null;

  @Field(() => DateTimeScalar)
  updatedAt!: string;

  @Field(() => [LiveApplicationEvent], { description: 'Every attempt and transition, oldest first.' })
  history!: LiveApplicationEvent[];

  @Field(() => String, {
    nullable: true,
    description: 'On subscription deliveries, the change-feed cursor of this state: pass it as `after` to resume. Null on queries.',
  })
  cursor?: string | null;
}
