import 'reflect-metadata';
import { Field, ID, ObjectType } from 'type-graphql';
import { DateTimeScalar } from './date-time.scalar.js';

@ObjectType({ simpleResolvers: true, description: 'An API key of the tenant, as admins see it: never the key itself nor its hash.' })
export class ApiKey {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true, description: 'A label given at creation ("ci", "console").' })
  name!: string | null;

  @Field(() => String, { description: 'The 8 hex characters after wxl_, to recognise the key by.' })
  prefix!: string;

  @Field(() => [String], { description: 'read, write, token, admin.' })
  scopes!: string[];

  @Field(() => DateTimeScalar)
  createdAt!: Date;

  @Field(() => DateTimeScalar, { nullable: true, description: 'After this the key is refused (UNAUTHENTICATED, saying it expired); null: never.' })
  expiresAt!: Date | null;

  @Field(() => DateTimeScalar, {
    nullable: true,
    description: 'When the key last authenticated, to the minute (written at most once a minute); null: never used.',
  })
  lastUsedAt!: Date | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'Set by revokeApiKey; a revoked key is refused by every instance within a second.' })
  revokedAt!: Date | null;
}
