import { type Clock, systemClock } from '../../lib/clock.js';
import { type Logger, silentLogger } from '../../lib/logger.js';
import type { WechatClient } from '../client/wechat-client.js';
import { isWechatError, WechatError } from '../errors.js';
import type { CredentialStore } from './credential-store.js';
import { type CachedAccessToken, type FetchedToken, type RedisClient, TokenCache } from './token-cache.js';
import { authorizerTokenKeys, componentTokenKeys } from './token-keys.js';

export type { CachedAccessToken } from './token-cache.js';

export interface TokenManagerOptions {
  redis: RedisClient;
  /** Namespace of every Redis key (`REDIS_PREFIX`). */
  prefix: string;
  store: CredentialStore;
  client: WechatClient;
  clock?: Clock;
  logger?: Logger;
  /** Default 5 minutes. */
  refreshAheadMs?: number;
  /** Default 20 s: outlives a refresh that itself waits on the component token. */
  lockTtlMs?: number;
  /** Default lockTtlMs + 1 s, so waiters outlast a holder that dies. */
  waitTimeoutMs?: number;
  /** Default 25 ms. */
  pollIntervalMs?: number;
  /** Default 5 s. */
  failureTtlMs?: number;
  /** How long a tenant's component app id and secret are kept in memory; default 60 s. */
  componentCacheMs?: number;
}

export interface ComponentCredentials {
  componentAppId: string;
  componentAppSecret: string;
}

export interface TokenManager {
  /** The tenant's component app id and secret (memoised briefly: every token lookup needs the app id). */
  component(tenantId: string): Promise<ComponentCredentials>;
  getComponentToken(tenantId: string): Promise<string>;
  getAuthorizerToken(tenantId: string, appId: string): Promise<string>;
  /**
   * The component token and its expiry, for a caller outside the gateway. Refreshed only near
   * expiry, or when `rejected` is the current token (compare-and-refresh: one refresh across every
   * process, however many callers report it); a `rejected` that is not current changes nothing.
   */
  readComponentToken(tenantId: string, rejected?: string): Promise<CachedAccessToken>;
  /** As readComponentToken, for one authorizer. */
  readAuthorizerToken(tenantId: string, appId: string, rejected?: string): Promise<CachedAccessToken>;
  invalidateComponentToken(tenantId: string, staleToken: string): Promise<boolean>;
  /** Drops the cached component token whatever it is (the app secret changed): the next use fetches one with the new secret. */
  forgetComponentToken(tenantId: string): Promise<void>;
  invalidateAuthorizerToken(tenantId: string, appId: string, staleToken: string): Promise<boolean>;
  /** Run `call` with the component token; on 40001/40014/42001 refresh once and retry once. */
  withComponentToken<T>(tenantId: string, call: (token: string, component: ComponentCredentials) => Promise<T>): Promise<T>;
  /** Run `call` with the authorizer token; on 40001/40014/42001 refresh once and retry once. */
  withAuthorizerToken<T>(tenantId: string, appId: string, call: (token: string) => Promise<T>): Promise<T>;
  /**
   * Store a pushed component_verify_ticket. Prefer this to the store's own saveTicket: it also
   * drops a remembered refresh failure (e.g. 61006), so the next call uses the new ticket at once.
   */
  saveTicket(tenantId: string, ticket: string): Promise<void>;
  /** Cache an authorizer token WeChat handed out with an authorization (api_query_auth). */
  rememberAuthorizerToken(tenantId: string, appId: string, token: string, expiresInSec: number): Promise<void>;
}

/**
 * Drops a tenant's cached component token and any remembered refresh failure, on every process
 * (they share Redis). For callers without a token manager, such as the CLI after `tenant update
 * --component-app-secret`.
 */
export async function forgetComponentToken(redis: RedisClient, prefix: string, tenantId: string, componentAppId: string): Promise<void> {
  const keys = componentTokenKeys(prefix, tenantId, componentAppId);
  await redis.del(keys.token, keys.failure);
}

export function createTokenManager(options: TokenManagerOptions): TokenManager {
  const { redis, prefix, store, client } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const lockTtlMs = options.lockTtlMs ?? 20_000;
  const componentCacheMs = options.componentCacheMs ?? 60_000;
  const cache = new TokenCache({
    redis,
    clock,
    logger,
    refreshAheadMs: options.refreshAheadMs ?? 300_000,
    lockTtlMs,
    waitTimeoutMs: options.waitTimeoutMs ?? lockTtlMs + 1000,
    pollIntervalMs: options.pollIntervalMs ?? 25,
    failureTtlMs: options.failureTtlMs ?? 5000,
  });
  const components = new Map<string, { value: ComponentCredentials; until: number }>();

  async function component(tenantId: string): Promise<ComponentCredentials> {
    const hit = components.get(tenantId);
    if (hit && clock.now() < hit.until) return hit.value;
    const value = await store.getComponent(tenantId);
    components.set(tenantId, { value, until: clock.now() + componentCacheMs });
    return value;
  }

  async function readComponentToken(tenantId: string, rejected?: string): Promise<CachedAccessToken> {
    const { componentAppId } = await component(tenantId);
    const keys = componentTokenKeys(prefix, tenantId, componentAppId);
    const fetch = () => fetchComponentToken(tenantId);
    return rejected === undefined ? cache.read(keys, 'api_component_token', fetch) : cache.replaceIfCurrent(keys, 'api_component_token', fetch, rejected);
  }

  async function getComponentToken(tenantId: string): Promise<string> {
    return (await readComponentToken(tenantId)).token;
  }

  async function fetchComponentToken(tenantId: string): Promise<FetchedToken> {
    // The secret is read afresh, not from the memo: a refresh is rare, and one right after the
    // secret was rotated (from another process) must use the new secret.
    const credentials = await store.getComponent(tenantId);
    components.set(tenantId, { value: credentials, until: clock.now() + componentCacheMs });
    const ticket = await store.getTicket(tenantId);
    if (ticket === null) {
      throw new WechatError({
        code: 'COMPONENT_TICKET_MISSING',
        endpoint: 'api_component_token',
        errmsg: `no component_verify_ticket received yet for tenant ${tenantId}`,
      });
    }
    const result = await client.componentToken({ ...credentials, ticket });
    return { token: result.componentAccessToken, expiresInSec: result.expiresIn };
  }

  async function readAuthorizerToken(tenantId: string, appId: string, rejected?: string): Promise<CachedAccessToken> {
    const { componentAppId } = await component(tenantId);
    const keys = authorizerTokenKeys(prefix, tenantId, componentAppId, appId);
    const fetch = () => fetchAuthorizerToken(tenantId, componentAppId, appId);
    return rejected === undefined ? cache.read(keys, 'api_authorizer_token', fetch) : cache.replaceIfCurrent(keys, 'api_authorizer_token', fetch, rejected);
  }

  async function getAuthorizerToken(tenantId: string, appId: string): Promise<string> {
    return (await readAuthorizerToken(tenantId, appId)).token;
  }

  async function fetchAuthorizerToken(tenantId: string, componentAppId: string, appId: string): Promise<FetchedToken> {
    const refreshToken = await store.getAuthorizerRefreshToken(tenantId, appId);
    if (refreshToken === null) {
      throw new WechatError({
        code: 'AUTHORIZER_UNKNOWN',
        endpoint: 'api_authorizer_token',
        errmsg: `no refresh token stored for authorizer ${appId} of tenant ${tenantId}`,
      });
    }
    const result = await withComponentToken(tenantId, (token) =>
      client.authorizerToken(token, { componentAppId, authorizerAppId: appId, authorizerRefreshToken: refreshToken }),
    );
    // WeChat may rotate the refresh token; losing the new one would force a new authorization.
    if (result.authorizerRefreshToken !== null && result.authorizerRefreshToken !== refreshToken) {
      await store.saveAuthorizerRefreshToken(tenantId, appId, result.authorizerRefreshToken);
    }
    return { token: result.authorizerAccessToken, expiresInSec: result.expiresIn };
  }

  async function invalidateComponentToken(tenantId: string, staleToken: string): Promise<boolean> {
    const { componentAppId } = await component(tenantId);
    return cache.invalidate(componentTokenKeys(prefix, tenantId, componentAppId), staleToken);
  }

  async function forgetComponentTokenOf(tenantId: string): Promise<void> {
    components.delete(tenantId);
    const { componentAppId } = await component(tenantId);
    await forgetComponentToken(redis, prefix, tenantId, componentAppId);
  }

  async function invalidateAuthorizerToken(tenantId: string, appId: string, staleToken: string): Promise<boolean> {
    const { componentAppId } = await component(tenantId);
    return cache.invalidate(authorizerTokenKeys(prefix, tenantId, componentAppId, appId), staleToken);
  }

  /** One refresh and one retry on a token errcode; a second failure surfaces (never loop). */
  async function retryOnce<T>(get: () => Promise<string>, invalidate: (stale: string) => Promise<boolean>, call: (token: string) => Promise<T>): Promise<T> {
    const token = await get();
    try {
      return await call(token);
    } catch (error) {
      if (!isWechatError(error) || !error.isTokenError) throw error;
      logger.info({ endpoint: error.endpoint, errcode: error.errcode }, 'wechat rejected a cached token; refreshing once');
      await invalidate(token);
      return call(await get());
    }
  }

  async function withComponentToken<T>(tenantId: string, call: (token: string, component: ComponentCredentials) => Promise<T>): Promise<T> {
    const credentials = await component(tenantId);
    return retryOnce(
      () => getComponentToken(tenantId),
      (stale) => invalidateComponentToken(tenantId, stale),
      (token) => call(token, credentials),
    );
  }

  function withAuthorizerToken<T>(tenantId: string, appId: string, call: (token: string) => Promise<T>): Promise<T> {
    return retryOnce(
      () => getAuthorizerToken(tenantId, appId),
      (stale) => invalidateAuthorizerToken(tenantId, appId, stale),
      call,
    );
  }

  async function saveTicket(tenantId: string, ticket: string): Promise<void> {
    await store.saveTicket(tenantId, ticket);
    const { componentAppId } = await component(tenantId);
    await cache.forgetFailure(componentTokenKeys(prefix, tenantId, componentAppId));
  }

  async function rememberAuthorizerToken(tenantId: string, appId: string, token: string, expiresInSec: number): Promise<void> {
    const { componentAppId } = await component(tenantId);
    await cache.put(authorizerTokenKeys(prefix, tenantId, componentAppId, appId), { token, expiresInSec });
  }

  return {
    component,
    getComponentToken,
    getAuthorizerToken,
    readComponentToken,
    readAuthorizerToken,
    invalidateComponentToken,
    forgetComponentToken: forgetComponentTokenOf,
    invalidateAuthorizerToken,
    withComponentToken,
    withAuthorizerToken,
    saveTicket,
    rememberAuthorizerToken,
  };
}
