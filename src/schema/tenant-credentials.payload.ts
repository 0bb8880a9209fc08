import 'reflect-metadata';
import { Field, ObjectType } from 'type-graphql';
import { DateTimeScalar } from './date-time.scalar.js';
import { Tenant } from './tenant.type.js';
import { UserError } from './user-error.type.js';

@ObjectType({ simpleResolvers: true })
export class UpdateTenantCredentialsPayload {
  @Field(() => Tenant, { nullable: true })
  tenant!: Tenant | null;

  @Field(() => DateTimeScalar, {
    nullable: true,
    description: 'Until when pushes under the previous token and EncodingAESKey are still accepted (CREDENTIAL_OVERLAP_MINUTES); null when neither changed.',
  })
  previousCredentialsAcceptedUntil!: Date | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}
