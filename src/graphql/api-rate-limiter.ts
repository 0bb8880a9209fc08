import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';
import type { RateLimitSetting } from '../services/api-keys/api-keys.service.js';

/** RATE_LIMIT_PER_SECOND / RATE_LIMIT_BURST: what a tenant without its own setting gets. */
export interface RateLimitDefaults {
  perSecond: number;
  burst: number;
}

export type RateVerdict = { ok: true } | { ok: false /** Whole seconds, at least 1 (the Retry-After header). */; retryAfterSeconds: number };

/**
 * A token bucket per API key in one EVALSHA: refill by the time since the last take (at
 * `rate` per second, up to `burst`), then take one token or answer how long until one is there.
 * `now` comes from the caller's clock (tests move it). A refusal writes nothing. The TTL is the
 * time a bucket takes to fill up again, after which a missing bucket is a full one anyway.
 * KEYS: bucket   ARGV: now(ms) rate(tokens/s) burst
 * Returns 0 when a token was taken, else the milliseconds until one will be.
 */
const TAKE = `
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
elseif now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000)
  at = now
end
if tokens < 1 then return math.ceil((1 - tokens) * 1000 / rate) end
redis.call('HSET', KEYS[1], 't', tostring(tokens - 1), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return 0`;

interface RateCommands {
  wxliveRateTake(bucket: string, now: string, rate: string, burst: string): Promise<number>;
}

const OUTAGE_LOG_INTERVAL_MS = 10_000;
const MAX_DENIED_KEYS = 10_000;

function refused(waitMs: number): RateVerdict {
  return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
}
const DOWN = new Set(['reconnecting', 'close', 'end']);

/**
 * Per-API-key rate limit of the GraphQL API (HTTP requests, and WebSocket connections once each).
 * Webhooks from WeChat never come here. When Redis fails the request is let through: the limit
 * protects capacity, it is not a correctness rule, and the API keeps answering through an outage
 * (logged at most every 10 s).
 */
export class ApiRateLimiter {
  private readonly commands: RateCommands;
  private lastOutageLog = Number.NEGATIVE_INFINITY;
  /**
   * Per bucket, until when (clock ms) Redis said no token can be there. A refusal writes nothing
   * and tokens only come with time, so until then Redis could only refuse again: a flooding key
   * is refused here, without a round trip, and never a request Redis would have let through
   * (a limit raised meanwhile applies from then on: at most 1/rate seconds later).
   */
  private readonly deniedUntil = new Map<string, number>();

  constructor(
    private readonly redis: RedisClient,
    private readonly options: { prefix: string; defaults: RateLimitDefaults; clock: Clock; logger: Logger },
  ) {
    if (!('wxliveRateTake' in redis)) redis.defineCommand('wxliveRateTake', { numberOfKeys: 1, lua: TAKE });
    this.commands = redis as unknown as RateCommands;
  }

  /** The bucket of one key; the tenant's hash tag keeps it on the tenant's Cluster slot. */
  bucket(tenantId: string, apiKeyId: string): string {
    return `${this.options.prefix}:{t:${tenantId}}:ratelimit:${apiKeyId}`;
  }

  async take(tenantId: string, apiKeyId: string, setting: RateLimitSetting): Promise<RateVerdict> {
    const rate = setting.perSecond ?? this.options.defaults.perSecond;
    const burst = setting.burst ?? this.options.defaults.burst;
    const bucket = this.bucket(tenantId, apiKeyId);
    const now = this.options.clock.now();
    const until = this.deniedUntil.get(bucket);
    if (until !== undefined) {
      if (now < until) return refused(until - now);
      this.deniedUntil.delete(bucket);
    }
    // Lost (reconnecting, closed): do not wait in ioredis's offline queue, answer at once. A first connect still queues.
    if (DOWN.has(this.redis.status)) return this.unavailable(new Error(`redis ${this.redis.status}`));
    let waitMs: number;
    try {
      waitMs = await this.commands.wxliveRateTake(bucket, String(now), String(rate), String(burst));
    } catch (err) {
      return this.unavailable(err);
    }
    if (waitMs <= 0) return { ok: true };
    // Bounded: a map entry per key refused in the last few seconds at most (entries expire on use or here).
    if (this.deniedUntil.size >= MAX_DENIED_KEYS) this.sweepDenied(now);
    if (this.deniedUntil.size < MAX_DENIED_KEYS) this.deniedUntil.set(bucket, now + waitMs);
    return refused(waitMs);
  }

  private sweepDenied(now: number): void {
    for (const [bucket, until] of this.deniedUntil) if (until <= now) this.deniedUntil.delete(bucket);
  }

  private unavailable(err: unknown): RateVerdict {
    const now = Date.now();
    if (now - this.lastOutageLog >= OUTAGE_LOG_INTERVAL_MS) {
      this.lastOutageLog = now;
      this.options.logger.warn({ err }, 'rate limiter unavailable (Redis); letting GraphQL requests through unlimited');
    }
    return { ok: true };
  }
}
