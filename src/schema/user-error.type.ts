import 'reflect-metadata';
import { Field, ObjectType } from 'type-graphql';
import type { ErrorCode as ErrorCodeName } from '../services/errors.js';
import { ErrorCode } from './error-code.enum.js';

@ObjectType({ simpleResolvers: true, description: 'An expected failure, returned as a value: `code` is stable, `message` is for people.' })
export class UserError {
  @Field(() => ErrorCode)
  code!: ErrorCodeName;

  @Field(() => String)
  message!: string;

  @Field(() => [String], { nullable: true, description: 'Path to the input field at fault, e.g. ["input", "appId"].' })
  field?: string[] | null;
}
