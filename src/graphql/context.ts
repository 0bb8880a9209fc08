import DataLoader from 'dataloader';
import type { Logger } from '../lib/logger.js';
import type { ApiKeysService } from '../services/api-keys/api-keys.service.js';
import type { AuthorizationLinkService } from '../services/authorization-link.service.js';
import type { AuthorizersService } from '../services/authorizers.service.js';
import type { TenantContext } from '../services/context.js';
import type { HistoryEventView, LiveApplicationLifecycle, LiveApplicationQueries } from '../services/live-application/index.js';
import type { LiveApiService } from '../services/live-ops/live-api.service.js';
import type { LiveGoodsService } from '../services/live-ops/live-goods.service.js';
import type { LiveMediaService } from '../services/live-ops/live-media.service.js';
import type { LiveRolesService } from '../services/live-ops/live-roles.service.js';
import type { LiveRoomsService } from '../services/live-ops/live-rooms.service.js';
import type { QuotaService } from '../services/quota.service.js';
import type { TenantsService } from '../services/tenants.service.js';
import type { TokenService } from '../services/token.service.js';
import type { WebhookDeliveriesService } from '../services/webhooks/deliveries.service.js';
import type { WebhookEndpointsService } from '../services/webhooks/endpoints.service.js';
import type { ApplicationFeed } from './application-feed.js';
import type { LiveRoomFeed } from './live-room-feed.js';

/** Everything resolvers may call: one service per resolver method. */
export interface GraphqlServices {
  tenants: TenantsService;
  apiKeys: ApiKeysService;
  authorizers: AuthorizersService;
  applications: LiveApplicationQueries;
  lifecycle: LiveApplicationLifecycle;
  quota: QuotaService;
  authorizationLinks: AuthorizationLinkService;
  tokens: TokenService;
  webhookEndpoints: WebhookEndpointsService;
  webhookDeliveries: WebhookDeliveriesService;
  liveRooms: LiveRoomsService;
  liveGoods: LiveGoodsService;
  liveRoles: LiveRolesService;
  liveMedia: LiveMediaService;
  liveApi: LiveApiService;
  feed: ApplicationFeed;
  /** `liveRoomUpdated`. */
  liveRoomFeed: LiveRoomFeed;
}

/**
 * The per-operation context: who is asking (from the API key only) and the request's loaders,
 * created on first use so operations that never read history pay nothing for them.
 */
export class GraphqlContext {
  private historyLoader: DataLoader<string, HistoryEventView[]> | undefined;
  private preloaded: Map<string, HistoryEventView[]> | undefined;

  constructor(
    readonly tenant: TenantContext,
    readonly services: GraphqlServices,
    readonly logger: Logger,
    /** false for subscriptions: one context serves every event, and history changes between them. */
    private readonly cacheLoads = true,
  ) {}

  get requestId(): string | undefined {
    return this.tenant.requestId;
  }

  /**
   * A page that will show history loads it for all its items at once, so each item's `history`
   * resolves synchronously instead of through one DataLoader promise per item.
   */
  async preloadHistory(ids: readonly string[]): Promise<void> {
    const map = await this.services.applications.historyFor(this.tenant, ids);
    if (this.preloaded) for (const [id, events] of map) this.preloaded.set(id, events);
    else this.preloaded = map;
  }

  /** An application's history: preloaded with its page, or batched per tick (no N+1 either way). */
  historyOf(id: string): HistoryEventView[] | Promise<HistoryEventView[]> {
    return this.preloaded?.get(id) ?? this.history.load(id);
  }

  /** History of many applications in one query per tick. */
  get history(): DataLoader<string, HistoryEventView[]> {
    this.historyLoader ??= new DataLoader<string, HistoryEventView[]>(
      async (ids) => {
        const map = await this.services.applications.historyFor(this.tenant, ids);
        return ids.map((id) => map.get(id) ?? []);
      },
      { cache: this.cacheLoads, maxBatchSize: 500 },
    );
    return this.historyLoader;
  }
}
