import 'reflect-metadata';
import { Field, ObjectType } from 'type-graphql';
import { DateTimeScalar } from './date-time.scalar.js';
import { UserError } from './user-error.type.js';

@ObjectType({ simpleResolvers: true, description: 'A page where a merchant authorizes the provider (Mini Programs only).' })
export class AuthorizationLink {
  @Field(() => String)
  url!: string;

  @Field(() => DateTimeScalar, { description: 'The pre-auth code inside expires then.' })
  expiresAt!: string;
}

@ObjectType({ simpleResolvers: true })
export class CreateAuthorizationLinkPayload {
  @Field(() => AuthorizationLink, { nullable: true })
  link!: AuthorizationLink | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}
