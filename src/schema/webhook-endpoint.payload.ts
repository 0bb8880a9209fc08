import 'reflect-metadata';
import { Field, ID, ObjectType } from 'type-graphql';
import { UserError } from './user-error.type.js';
import { WebhookEndpoint } from './webhook-endpoint.type.js';

@ObjectType({ simpleResolvers: true })
export class CreateWebhookEndpointPayload {
  @Field(() => WebhookEndpoint, { nullable: true })
  endpoint!: WebhookEndpoint | null;

  @Field(() => String, { nullable: true, description: 'The signing secret (whsec_...), shown this once.' })
  secret!: string | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class RotateWebhookEndpointSecretPayload {
  @Field(() => WebhookEndpoint, { nullable: true })
  endpoint!: WebhookEndpoint | null;

  @Field(() => String, { nullable: true, description: 'The new secret, shown this once; the previous one keeps signing for 24 hours.' })
  secret!: string | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class UpdateWebhookEndpointPayload {
  @Field(() => WebhookEndpoint, { nullable: true })
  endpoint!: WebhookEndpoint | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class DeleteWebhookEndpointPayload {
  @Field(() => ID, { nullable: true })
  deletedId!: string | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}
