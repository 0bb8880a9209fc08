import { AccessTokenResolver } from './access-token.resolver.js';
import { ApiKeyResolver } from './api-key.resolver.js';
import { ApplyLiveResolver } from './apply-live.resolver.js';
import { AuthorizationLinkResolver } from './authorization-link.resolver.js';
import { AuthorizerResolver } from './authorizer.resolver.js';
import { LiveApiResolver } from './live-api.resolver.js';
import { LiveApplicationResolver } from './live-application.resolver.js';
import { LiveApplicationUpdatedResolver } from './live-application-updated.resolver.js';
import { LiveGoodsResolver } from './live-goods.resolver.js';
import { LiveRoleResolver } from './live-role.resolver.js';
import { LiveRoomResolver } from './live-room.resolver.js';
import { LiveRoomUpdatedResolver } from './live-room-updated.resolver.js';
import { QuotaResolver } from './quota.resolver.js';
import { TenantResolver } from './tenant.resolver.js';
import { WebhookDeliveryResolver } from './webhook-delivery.resolver.js';
import { WebhookEndpointResolver } from './webhook-endpoint.resolver.js';

export const resolvers = [
  LiveApplicationResolver,
  ApplyLiveResolver,
  AuthorizerResolver,
  QuotaResolver,
  TenantResolver,
  AuthorizationLinkResolver,
  LiveApplicationUpdatedResolver,
  AccessTokenResolver,
  WebhookEndpointResolver,
  WebhookDeliveryResolver,
  LiveRoomResolver,
  LiveGoodsResolver,
  LiveRoleResolver,
  LiveApiResolver,
  ApiKeyResolver,
  LiveRoomUpdatedResolver,
] as const;
