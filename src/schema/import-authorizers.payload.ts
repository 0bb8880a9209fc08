import 'reflect-metadata';
import { Field, ObjectType } from 'type-graphql';
import { Authorizer } from './authorizer.type.js';
import { UserError } from './user-error.type.js';

@ObjectType({ simpleResolvers: true })
export class ImportAuthorizerResult {
  @Field(() => String)
  appId!: string;

  @Field(() => Authorizer, { nullable: true })
  authorizer!: Authorizer | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class ImportAuthorizersPayload {
  @Field(() => [ImportAuthorizerResult], { description: 'One result per input item, in the order sent.' })
  results!: ImportAuthorizerResult[];

  @Field(() => [UserError], { description: 'Problems with the batch as a whole (e.g. BATCH_TOO_LARGE).' })
  userErrors!: UserError[];
}
