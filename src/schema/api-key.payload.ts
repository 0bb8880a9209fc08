import 'reflect-metadata';
import { Field, ObjectType } from 'type-graphql';
import { ApiKey } from './api-key.type.js';
import { UserError } from './user-error.type.js';

@ObjectType({ simpleResolvers: true })
export class CreateApiKeyPayload {
  @Field(() => ApiKey, { nullable: true })
  apiKey!: ApiKey | null;

  @Field(() => String, {
    nullable: true,
    description: 'The key (wxl_...), shown this once: only its hash is stored. Send it as "Authorization: Bearer <key>".',
  })
  key!: string | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class RevokeApiKeyPayload {
  @Field(() => ApiKey, { nullable: true, description: 'The key, revokedAt set (an already revoked key as it was).' })
  apiKey!: ApiKey | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}
