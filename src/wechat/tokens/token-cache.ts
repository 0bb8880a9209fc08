import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import type { RedisClient } from '../../lib/redis.js';
import type { WechatEndpoint } from '../endpoints.js';
import { WechatError, type WechatErrorCode } from '../errors.js';
import type { TokenKeys } from './token-keys.js';

export type { RedisClient } from '../../lib/redis.js';

export interface FetchedToken {
  token: string;
  expiresInSec: number;
}

/** A token as the cache holds it: the value and when it expires (epoch ms by the injected clock). */
export interface CachedAccessToken {
  token: string;
  expiresAt: number;
}

export interface TokenCacheOptions {
  redis: RedisClient;
  clock: Clock;
  logger: Logger;
  /** Refresh this long before expiry (at most half the lifetime). */
  refreshAheadMs: number;
  /** How long a refresh lock lives if its holder dies. */
  lockTtlMs: number;
  /** How long a caller waits for another process's refresh before giving up. */
  waitTimeoutMs: number;
  pollIntervalMs: number;
  /** How long a failed refresh is answered from Redis instead of calling WeChat again. */
  failureTtlMs: number;
}

/** Stored as JSON: token, expiry and refresh-from instant (epoch ms by the injected clock). */
interface CachedToken {
  t: string;
  e: number;
  r: number;
}

interface FailureMarker {
  code: WechatErrorCode;
  endpoint: WechatEndpoint;
  errcode: number | null;
  errmsg: string;
  httpStatus: number | null;
}

// Deletes KEYS[1] only if it still holds ARGV[1]: never release a lock someone else has since taken.
const COMPARE_AND_DELETE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

// Deletes the cached token KEYS[1] only if its token is still ARGV[1]: a caller reporting a token
// WeChat refused never drops the one another caller's refresh has since stored.
const DELETE_IF_TOKEN = `local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local ok, cached = pcall(cjson.decode, raw)
if ok and type(cached) == 'table' and cached.t == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

// Writes KEYS[2] and releases the lock KEYS[1] only while ARGV[1] (our fencing value) still holds
// it: a holder whose lock expired must not overwrite a newer holder's token.
const SET_AND_RELEASE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[1])
return 1`;

/**
 * A token cached in Redis and refreshed single-flight across every process sharing that Redis:
 * one process refreshes under a fenced lock, the others poll for its result (or its failure).
 * Within one process, concurrent callers share one refresh.
 */
export class TokenCache {
  private readonly inflight = new Map<string, Promise<CachedAccessToken>>();

  constructor(private readonly options: TokenCacheOptions) {}

  /** A token fresh enough to use, refreshing it with `fetch` when missing or near expiry. */
  async get(keys: TokenKeys, endpoint: WechatEndpoint, fetch: () => Promise<FetchedToken>): Promise<string> {
    return (await this.read(keys, endpoint, fetch)).token;
  }

  /** As `get`, with the token's expiry. A token that is not near expiry is answered from Redis, never refreshed. */
  async read(keys: TokenKeys, endpoint: WechatEndpoint, fetch: () => Promise<FetchedToken>): Promise<CachedAccessToken> {
    const cached = parseToken(await this.options.redis.get(keys.token));
    if (cached && this.options.clock.now() < cached.r) return { token: cached.t, expiresAt: cached.e };
    let flight = this.inflight.get(keys.token);
    if (!flight) {
      flight = this.refresh(keys, endpoint, fetch).finally(() => this.inflight.delete(keys.token));
      this.inflight.set(keys.token, flight);
    }
    return flight;
  }

  /**
   * Compare-and-refresh: when `rejected` is the cached token (its holder got 40001/42001 with it),
   * drop it and read, which refreshes under the lock; otherwise just read. However many callers,
   * in however many processes, report the same token, only the first drop succeeds: the others
   * find no token (and wait for the one refresh) or the new one (and take it).
   */
  async replaceIfCurrent(keys: TokenKeys, endpoint: WechatEndpoint, fetch: () => Promise<FetchedToken>, rejected: string): Promise<CachedAccessToken> {
    await this.invalidate(keys, rejected);
    return this.read(keys, endpoint, fetch);
  }

  /** Drop `staleToken` after WeChat rejected it, unless another process already replaced it. One atomic script. */
  async invalidate(keys: TokenKeys, staleToken: string): Promise<boolean> {
    return (await this.options.redis.eval(DELETE_IF_TOKEN, 1, keys.token, staleToken)) === 1;
  }

  /** Forget a remembered refresh failure (the credential it was about has just been replaced). */
  async forgetFailure(keys: TokenKeys): Promise<void> {
    await this.options.redis.del(keys.failure);
  }

  /** Cache a token WeChat handed out as a side result (e.g. `api_query_auth`). */
  async put(keys: TokenKeys, fetched: FetchedToken): Promise<void> {
    const value = this.toCached(fetched);
    await this.options.redis.set(keys.token, JSON.stringify(value), 'PX', fetched.expiresInSec * 1000);
  }

  private async refresh(keys: TokenKeys, endpoint: WechatEndpoint, fetch: () => Promise<FetchedToken>): Promise<CachedAccessToken> {
    const { redis, clock, lockTtlMs, waitTimeoutMs, pollIntervalMs } = this.options;
    // Waiting is real time whatever the injected clock says: it bounds how long a caller blocks.
    const deadline = performance.now() + waitTimeoutMs;
    for (;;) {
      const [raw, holder, failure] = await redis.mget(keys.token, keys.lock, keys.failure);
      const cached = parseToken(raw ?? null);
      const now = clock.now();
      if (cached && now < cached.r) return { token: cached.t, expiresAt: cached.e }; // refreshed meanwhile
      // Near expiry but still valid: whoever refreshes, callers need not wait for it.
      const valid = cached !== null && now < cached.e;
      if (holder === null || holder === undefined) {
        // A refresh failed moments ago: answer with that failure rather than have every caller,
        // job after job, repeat the same failing call upstream.
        const failed = parseFailure(failure ?? null);
        if (failed) {
          if (valid) return { token: cached.t, expiresAt: cached.e };
          throw markerError(failed);
        }
        const fence = randomUUID();
        if ((await redis.set(keys.lock, fence, 'PX', lockTtlMs, 'NX')) === 'OK') return this.refreshUnderLock(keys, fence, fetch);
        continue; // another process took it between our read and our SET
      }
      if (valid) return { token: cached.t, expiresAt: cached.e };
      if (performance.now() > deadline) {
        throw new WechatError({ code: 'TOKEN_REFRESH_TIMEOUT', endpoint, errmsg: `no token after ${waitTimeoutMs} ms` });
      }
      await sleep(pollIntervalMs);
    }
  }

  private async refreshUnderLock(keys: TokenKeys, fence: string, fetch: () => Promise<FetchedToken>): Promise<CachedAccessToken> {
    const { redis, clock, failureTtlMs, logger } = this.options;
    // Another process may have stored a token between our read and our lock.
    const current = parseToken(await redis.get(keys.token));
    if (current && clock.now() < current.r) {
      await redis.eval(COMPARE_AND_DELETE, 1, keys.lock, fence);
      return { token: current.t, expiresAt: current.e };
    }
    let fetched: FetchedToken;
    try {
      fetched = await fetch();
    } catch (error) {
      // Remember only failures of a call WeChat answered or timed out on (they carry a latency):
      // local ones (no ticket yet, unknown authorizer) are cheap to re-check and clear the moment
      // the missing credential is stored.
      if (error instanceof WechatError && error.latencyMs !== null) {
        const marker: FailureMarker = {
          code: error.code,
          endpoint: error.endpoint,
          errcode: error.errcode,
          errmsg: error.errmsg,
          httpStatus: error.httpStatus,
        };
        await redis.eval(SET_AND_RELEASE, 2, keys.lock, keys.failure, fence, JSON.stringify(marker), failureTtlMs);
      } else {
        await redis.eval(COMPARE_AND_DELETE, 1, keys.lock, fence);
      }
      throw error;
    }
    const cached = this.toCached(fetched);
    const stored = await redis.eval(SET_AND_RELEASE, 2, keys.lock, keys.token, fence, JSON.stringify(cached), fetched.expiresInSec * 1000);
    // Our token is valid all the same; the newer holder's token simply wins the cache.
    if (stored !== 1) logger.warn({ key: keys.token }, 'token refresh outlived its lock; not caching the result');
    return { token: cached.t, expiresAt: cached.e };
  }

  private toCached(fetched: FetchedToken): CachedToken {
    const now = this.options.clock.now();
    const lifetimeMs = fetched.expiresInSec * 1000;
    // Never plan a refresh earlier than half-life, or short-lived tokens would refresh on every call.
    const aheadMs = Math.min(this.options.refreshAheadMs, lifetimeMs / 2);
    return { t: fetched.token, e: now + lifetimeMs, r: now + lifetimeMs - aheadMs };
  }
}

function parseToken(raw: string | null): CachedToken | null {
  if (raw === null) return null;
  try {
    const value = JSON.parse(raw) as Partial<CachedToken>;
    return typeof value.t === 'string' && typeof value.e === 'number' && typeof value.r === 'number' ? { t: value.t, e: value.e, r: value.r } : null;
  } catch {
    return null;
  }
}

function parseFailure(raw: string | null): FailureMarker | null {
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as FailureMarker;
  } catch {
    return null;
  }
}

function markerError(marker: FailureMarker): WechatError {
  return new WechatError({
    code: marker.code,
    endpoint: marker.endpoint,
    errcode: marker.errcode,
    errmsg: marker.errmsg,
    httpStatus: marker.httpStatus,
  });
}
