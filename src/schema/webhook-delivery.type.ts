import 'reflect-metadata';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar } from './date-time.scalar.js';
import { PageInfo } from './page-info.type.js';
import { UserError } from './user-error.type.js';
import { WebhookDeliveryStatus } from './webhook-delivery-status.enum.js';

@ObjectType({ simpleResolvers: true, description: 'One message for one endpoint, with the record of its attempts. Its id is the `webhook-id` header.' })
export class WebhookDelivery {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  endpointId!: string;

  @Field(() => String, { description: 'application.updated, ... (EVENTS); the push type (RELAY).' })
  eventType!: string;

  @Field(() => WebhookDeliveryStatus)
  status!: string;

  @Field(() => Int, { description: 'Attempts made so far.' })
  attempts!: number;

  @Field(() => Int, { nullable: true, description: "The last attempt's HTTP status; null when there was no answer." })
  lastStatusCode!: number | null;

  @Field(() => String, { nullable: true, description: 'Why the last attempt got no answer (timeout, refused, reset, address not allowed).' })
  lastError!: string | null;

  @Field(() => String, { nullable: true, description: 'The first 1,024 characters of the last answer body.' })
  lastResponse!: string | null;

  @Field(() => DateTimeScalar)
  createdAt!: Date;

  @Field(() => DateTimeScalar, { nullable: true })
  deliveredAt!: Date | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'PENDING: when the next attempt is due.' })
  nextAttemptAt!: Date | null;
}

@ObjectType({ simpleResolvers: true })
export class WebhookDeliveryEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => WebhookDelivery)
  node!: WebhookDelivery;
}

@ObjectType({ simpleResolvers: true, description: 'Newest first (Relay connection).' })
export class WebhookDeliveryConnection {
  @Field(() => [WebhookDeliveryEdge])
  edges!: WebhookDeliveryEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

@InputType()
export class WebhookDeliveryFilter {
  @Field(() => [WebhookDeliveryStatus], { nullable: true })
  status?: ('PENDING' | 'DELIVERED' | 'FAILED')[] | null;
}

@ObjectType({ simpleResolvers: true })
export class RedeliverWebhookPayload {
  @Field(() => WebhookDelivery, { nullable: true })
  delivery!: WebhookDelivery | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}
