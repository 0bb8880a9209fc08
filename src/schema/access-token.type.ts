import 'reflect-metadata';
import { Field, ObjectType } from 'type-graphql';
import { DateTimeScalar } from './date-time.scalar.js';

@ObjectType({ simpleResolvers: true, description: "A WeChat access token the gateway holds, for one of the provider's own backends." })
export class AccessToken {
  @Field(() => String, { description: 'Use it as access_token (or component_access_token) on WeChat calls; never refresh it yourself.' })
  token!: string;

  @Field(() => DateTimeScalar, { description: 'When WeChat stops accepting it. The gateway refreshes it about 5 minutes before.' })
  expiresAt!: Date;
}
