import { createHash } from 'node:crypto';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';

export const DEFAULT_REPLAY_WINDOW_MS = 5 * 60_000;

/** The signed tuple of one push, as it came in the query string. */
export interface SignedTuple {
  timestamp: string;
  nonce: string;
  signature: string;
}

/**
 * - `new`: first sighting, now claimed by this request.
 * - `pending`: claimed by a request that has not stored it (in flight, or it failed): process as new.
 * - `stored`: stored before: answer `success` without processing.
 */
export type ReplayState = 'new' | 'pending' | 'stored';

/** A claim the request confirms once the push is stored, or releases when it is not. */
export interface ReplayClaim {
  state: ReplayState;
  /**
   * `alsoStored`: another tuple to mark stored with it (the plaintext-mode tuple an encrypted push
   * also carried), in the same round trip.
   */
  confirm(alsoStored?: SignedTuple): Promise<void>;
  release(): Promise<void>;
}

/**
 * Seen-before check. The mark is only set to `stored` after the inbox insert: a request that
 * failed with 503 leaves no `stored` mark, so WeChat's retry of the same query is processed
 * rather than answered `success` for something never stored.
 */
const CLAIM_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], 'pending', 'PX', ARGV[1])
return false`;

interface ClaimCommand {
  wxliveWebhookClaim(key: string, ttlMs: string): Promise<string | null>;
}

export interface ReplayGuardOptions {
  redis: RedisClient;
  /** The configured Redis prefix (REDIS_PREFIX). */
  prefix: string;
  clock: Clock;
  logger: Logger;
  /** `webhookReplayWindowMs`; 0 disables the timestamp check (the seen-before cache then keeps 5 min). */
  windowMs?: number;
  /** Redis is a defence, not the record: past this, the push goes on to the inbox's own dedup. */
  timeoutMs?: number;
}

export class ReplayGuard {
  readonly windowMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: ReplayGuardOptions) {
    this.windowMs = options.windowMs ?? DEFAULT_REPLAY_WINDOW_MS;
    this.timeoutMs = options.timeoutMs ?? 500;
    if (!('wxliveWebhookClaim' in options.redis)) {
      options.redis.defineCommand('wxliveWebhookClaim', { numberOfKeys: 1, lua: CLAIM_SCRIPT });
    }
  }

  /** Whether `timestamp` (unix seconds) is within the window of the injected clock. */
  isFresh(timestamp: string): boolean {
    if (this.windowMs === 0) return true;
    if (!/^[0-9]{1,12}$/.test(timestamp)) return false;
    return Math.abs(this.options.clock.now() - Number(timestamp) * 1000) <= this.windowMs;
  }

  key(tenantId: string, tuple: SignedTuple): string {
    // Hashed: the nonce is sender-chosen and unbounded; the hash tag keeps a tenant on one slot.
    const id = createHash('sha256').update(`${tuple.timestamp}\n${tuple.nonce}\n${tuple.signature}`).digest('base64url');
    return `${this.options.prefix}:{t:${tenantId}}:webhook:seen:${id}`;
  }

  /**
   * Claims the tuple. Redis failing or slow never blocks a push: the claim then reads `new` and
   * does nothing, and the inbox's unique (tenant, dedup key) still keeps processing to once.
   */
  async claim(tenantId: string, tuple: SignedTuple): Promise<ReplayClaim> {
    const key = this.key(tenantId, tuple);
    const redis = this.options.redis as RedisClient & ClaimCommand;
    let previous: string | null;
    try {
      previous = await this.withTimeout(redis.wxliveWebhookClaim(key, String(this.ttlMs(tuple.timestamp))));
    } catch (err) {
      this.options.logger.warn({ err }, 'webhook replay cache unavailable; relying on inbox de-duplication');
      return { state: 'new', confirm: (also) => (also ? this.markStored(tenantId, also) : Promise.resolve()), release: async () => {} };
    }
    const state: ReplayState = previous === null ? 'new' : previous === 'stored' ? 'stored' : 'pending';
    return {
      state,
      confirm: (also) => {
        if (!also) return this.quietly(redis.set(key, 'stored', 'KEEPTTL', 'XX'));
        const both = redis.pipeline().set(key, 'stored', 'KEEPTTL', 'XX').set(this.key(tenantId, also), 'stored', 'PX', this.ttlMs(also.timestamp)).exec();
        return this.quietly(both);
      },
      // Only the request that set the mark removes it; a `pending` one found it and leaves it.
      release: state === 'new' ? () => this.quietly(redis.del(key)) : async () => {},
    };
  }

  /** Marks a tuple stored without a claim: the plaintext-mode tuple an encrypted push also carried. */
  markStored(tenantId: string, tuple: SignedTuple): Promise<void> {
    return this.quietly(this.options.redis.set(this.key(tenantId, tuple), 'stored', 'PX', this.ttlMs(tuple.timestamp)));
  }

  /** Long enough that the tuple is remembered for as long as its timestamp passes the window. */
  private ttlMs(timestamp: string): number {
    if (this.windowMs === 0) return DEFAULT_REPLAY_WINDOW_MS;
    const expiresAt = Number(timestamp) * 1000 + this.windowMs;
    return Math.max(1000, expiresAt - this.options.clock.now());
  }

  private async quietly(op: Promise<unknown>): Promise<void> {
    try {
      await this.withTimeout(op);
    } catch (err) {
      this.options.logger.warn({ err }, 'webhook replay cache update failed');
    }
  }

  private withTimeout<T>(op: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    return Promise.race([op, timeout]).finally(() => clearTimeout(timer));
  }
}
