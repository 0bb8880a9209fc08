import 'reflect-metadata';
import { Field, InputType, Int } from 'type-graphql';

@InputType()
export class ImportAuthorizerInput {
  @Field(() => String)
  appId!: string;

  @Field(() => String, { description: 'The authorizer_refresh_token; stored encrypted, never returned.' })
  refreshToken!: string;

  @Field(() => [Int], { nullable: true, description: 'Granted permission sets; when omitted, 52 is assumed and WeChat has the last word.' })
  permissionSets?: number[] | null;
}
