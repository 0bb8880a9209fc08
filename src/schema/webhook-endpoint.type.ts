import 'reflect-metadata';
import { Field, ID, ObjectType } from 'type-graphql';
import { DateTimeScalar } from './date-time.scalar.js';
import { WebhookEndpointKind } from './webhook-endpoint-kind.enum.js';

@ObjectType({ simpleResolvers: true, description: 'Where the gateway hands on what it receives (RELAY) or what happens (EVENTS). See docs/webhooks.md.' })
export class WebhookEndpoint {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  url!: string;

  @Field(() => WebhookEndpointKind)
  kind!: string;

  @Field(() => [String], { nullable: true, description: 'Types sent to it; null: all.' })
  events!: string[] | null;

  @Field(() => Boolean)
  enabled!: boolean;

  @Field(() => String, { nullable: true, description: 'Why the gateway disabled it (410 Gone, failing for 5 days).' })
  disabledReason!: string | null;

  @Field(() => DateTimeScalar)
  createdAt!: Date;

  @Field(() => DateTimeScalar)
  updatedAt!: Date;
}
