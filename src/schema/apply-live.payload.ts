import 'reflect-metadata';
import { Field, ObjectType } from 'type-graphql';
import { LiveApplication } from './live-application.type.js';
import { UserError } from './user-error.type.js';

@ObjectType({ simpleResolvers: true })
export class ApplyLivePayload {
  @Field(() => LiveApplication, { nullable: true, description: 'The new application, or the active one already there.' })
  application!: LiveApplication | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class ApplyLiveBatchResult {
  @Field(() => String)
  appId!: string;

  @Field(() => LiveApplication, { nullable: true })
  application!: LiveApplication | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class ApplyLiveBatchPayload {
  @Field(() => [ApplyLiveBatchResult], { description: 'One result per app id, in the order sent.' })
  results!: ApplyLiveBatchResult[];

  @Field(() => [UserError], { description: 'Problems with the batch as a whole (e.g. BATCH_TOO_LARGE).' })
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class CancelLiveApplicationPayload {
  @Field(() => LiveApplication, { nullable: true })
  application!: LiveApplication | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}
