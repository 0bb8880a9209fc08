import { type Clock, systemClock } from '../lib/clock.js';
import { type Logger, silentLogger } from '../lib/logger.js';
import type { OnCall } from './client/http.js';
import type { ApiQuota, ApplyLiveResult, AuthorizationInfo, AuthorizerInfo } from './client/types.js';
import { createWechatHttp } from './client/http.js';
import { createWechatClient } from './client/wechat-client.js';
import { createLiveClient, type LiveClient } from './live/live-client.js';
import { COMPONENT_LOGIN_PAGE, WECHAT_ENDPOINTS } from './endpoints.js';
import type { CredentialStore } from './tokens/credential-store.js';
import type { RedisClient } from './tokens/token-cache.js';
import { createTokenManager, type TokenManager } from './tokens/token-manager.js';

export interface WechatApiOptions {
  /** `WECHAT_API_BASE`, e.g. https://api.weixin.qq.com or the simulator's URL. */
  baseUrl: string;
  /** Per HTTP call; default 5000 ms. */
  timeoutMs?: number;
  redis: RedisClient;
  /** Namespace of every Redis key. */
  prefix: string;
  store: CredentialStore;
  clock?: Clock;
  logger?: Logger;
  /** Refresh tokens this long before they expire; default 5 minutes. */
  refreshAheadMs?: number;
  /** Called after every HTTP call to WeChat, for metrics. */
  onCall?: OnCall;
}

export interface PreAuthCodeResult {
  preAuthCode: string;
  expiresIn: number;
  componentAppId: string;
}

/**
 * The WeChat calls the rest of the gateway makes, by tenant: tokens are found, refreshed and
 * retried once here. Failures are thrown as WechatError (with `errorClass`); applyLive returns
 * errcode 0 and 2 as results (see ApplyLiveResult).
 */
export interface WechatApi {
  applyLive(tenantId: string, appId: string): Promise<ApplyLiveResult>;
  getApplyLiveQuota(tenantId: string, appId: string): Promise<ApiQuota>;
  createPreAuthCode(tenantId: string): Promise<PreAuthCodeResult>;
  /**
   * Exchange the AuthorizationCode of an `authorized` push. Also stores the refresh token through
   * the store (which updates an authorizer it already knows; the caller records a new one from
   * the result) and caches the access token that came with it.
   */
  queryAuth(tenantId: string, authorizationCode: string): Promise<AuthorizationInfo>;
  getAuthorizerInfo(tenantId: string, appId: string): Promise<AuthorizerInfo>;
  componentLoginPageUrl(componentAppId: string, preAuthCode: string, redirectUri: string): string;
  /** A live management call (rooms, goods, roles, media) with the merchant's token, refreshed and retried once on 40001. */
  runLive<T>(tenantId: string, appId: string, call: (client: LiveClient, token: string) => Promise<T>): Promise<T>;
  readonly tokens: TokenManager;
}

export function createWechatApi(options: WechatApiOptions): WechatApi {
  const logger = options.logger ?? silentLogger;
  const client = createWechatClient({
    baseUrl: options.baseUrl,
    logger,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.onCall === undefined ? {} : { onCall: options.onCall }),
  });
  const tokens = createTokenManager({
    redis: options.redis,
    prefix: options.prefix,
    store: options.store,
    client,
    clock: options.clock ?? systemClock,
    logger,
    ...(options.refreshAheadMs === undefined ? {} : { refreshAheadMs: options.refreshAheadMs }),
  });
  const { store } = options;
  const live = createLiveClient(
    createWechatHttp({
      baseUrl: options.baseUrl,
      logger,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.onCall === undefined ? {} : { onCall: options.onCall }),
    }),
  );

  return {
    tokens,

    applyLive: (tenantId, appId) => tokens.withAuthorizerToken(tenantId, appId, (token) => client.applyLiveInfo(token)),

    getApplyLiveQuota: (tenantId, appId) => tokens.withAuthorizerToken(tenantId, appId, (token) => client.getApiQuota(token, WECHAT_ENDPOINTS.applyliveinfo)),

    createPreAuthCode: (tenantId) =>
      tokens.withComponentToken(tenantId, async (token, { componentAppId }) => {
        const result = await client.createPreAuthCode(token, componentAppId);
        return { preAuthCode: result.preAuthCode, expiresIn: result.expiresIn, componentAppId };
      }),

    async queryAuth(tenantId, authorizationCode) {
      const info = await tokens.withComponentToken(tenantId, (token, { componentAppId }) => client.queryAuth(token, componentAppId, authorizationCode));
      await store.saveAuthorizerRefreshToken(tenantId, info.authorizerAppId, info.authorizerRefreshToken);
      await tokens.rememberAuthorizerToken(tenantId, info.authorizerAppId, info.authorizerAccessToken, info.expiresIn);
      return info;
    },

    getAuthorizerInfo: (tenantId, appId) =>
      tokens.withComponentToken(tenantId, (token, { componentAppId }) => client.getAuthorizerInfo(token, componentAppId, appId)),

    componentLoginPageUrl,

    runLive: (tenantId, appId, call) => tokens.withAuthorizerToken(tenantId, appId, (token) => call(live, token)),
  };
}

/** The page where a merchant authorizes the component; auth_type 2 shows Mini Programs only. */
export function componentLoginPageUrl(componentAppId: string, preAuthCode: string, redirectUri: string): string {
  // encodeURIComponent rather than URLSearchParams: a space must become %20, not '+'.
  const e = encodeURIComponent;
  return `${COMPONENT_LOGIN_PAGE}?component_appid=${e(componentAppId)}&pre_auth_code=${e(preAuthCode)}&redirect_uri=${e(redirectUri)}&auth_type=2`;
}
