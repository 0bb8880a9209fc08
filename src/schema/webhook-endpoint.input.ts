import 'reflect-metadata';
import { Field, ID, InputType } from 'type-graphql';
import { WebhookEndpointKind } from './webhook-endpoint-kind.enum.js';

const EVENTS =
  'RELAY: InfoType, MsgType or Event names (component_verify_ticket, text, weapp_audit_success); EVENTS: application.updated, authorizer.updated, live_room.updated, live_goods.updated. `*` or omitted: all.';

@InputType()
export class CreateWebhookEndpointInput {
  @Field(() => String, { description: 'https, resolving to public addresses (unless the operator allows otherwise).' })
  url!: string;

  @Field(() => WebhookEndpointKind)
  kind!: 'RELAY' | 'EVENTS';

  @Field(() => [String], { nullable: true, description: EVENTS })
  events?: string[] | null;
}

@InputType()
export class UpdateWebhookEndpointInput {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  url?: string | null;

  @Field(() => [String], { nullable: true, description: EVENTS })
  events?: string[] | null;

  @Field(() => Boolean, { nullable: true, description: 'true enables it again (clearing disabledReason).' })
  enabled?: boolean | null;
}
