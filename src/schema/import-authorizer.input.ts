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

  @Field(() => Boolean, {
    nullable: true,
    description:
      'Live is already open for this merchant (opened before the gateway; WeChat grants no new live permissions, errcode 268489001): its rooms, goods and roles are served without an application. An import never closes live that is open.',
  })
  liveOpen?: boolean | null;
}
