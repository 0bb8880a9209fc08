import 'reflect-metadata';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar } from './date-time.scalar.js';
import { LiveApplicationStatus } from './live-application-status.enum.js';

@ObjectType({ simpleResolvers: true, description: 'One attempt or transition of an application: the audit trail.' })
export class LiveApplicationEvent {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: 'CREATED, ATTEMPT, STATUS or NOTE.' })
  type!: string;

  @Field(() => LiveApplicationStatus, { nullable: true })
  status!: string | null;

  @Field(() => Int, { nullable: true })
  errcode!: number | null;

  @Field(() => String, { nullable: true })
  errmsg!: string | null;

  @Field(() => Int, { nullable: true, description: 'Duration of the WeChat call, for attempts.' })
  latencyMs!: number | null;

  @Field(() => Int, { nullable: true })
  attempt!: number | null;

  @Field(() => String, { nullable: true })
  message!: string | null;

  @Field(() => DateTimeScalar)
  at!: string;
}
