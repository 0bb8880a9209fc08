import 'reflect-metadata';
import { Field, Int, ObjectType } from 'type-graphql';
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

  @Field(() => Int, { nullable: true, description: "WeChat's errcode, verbatim, when the failure is WeChat's answer." })
  errcode?: number | null;

  @Field(() => String, { nullable: true, description: "WeChat's errmsg, verbatim, when the failure is WeChat's answer." })
  errmsg?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'ANCHOR_NOT_VERIFIED: the code the anchor scans in WeChat to verify their real name (WeChat returns it with errcode 300036).',
  })
  qrcodeUrl?: string | null;
}
