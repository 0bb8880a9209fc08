import 'reflect-metadata';
import { Field, InputType } from 'type-graphql';
import { DateTimeScalar } from './date-time.scalar.js';

@InputType()
export class CreateApiKeyInput {
  @Field(() => [String], { description: 'read, write (brings read along), token, admin; at least one.' })
  scopes!: string[];

  @Field(() => DateTimeScalar, { description: 'When the key stops working; in the future.' })
  expiresAt!: Date;

  @Field(() => String, { nullable: true, description: 'A label for people, at most 100 characters.' })
  name?: string | null;
}
