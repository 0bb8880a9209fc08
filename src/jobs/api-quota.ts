import { nextQuotaDayStart, quotaDay } from '../lib/quota-day.js';
import type { RedisClient } from '../lib/redis.js';
import { LIVE_QUOTA_GROUP_NAMES, LIVE_QUOTA_GROUPS, type LiveQuotaGroup } from '../wechat/endpoints.js';

/** Calls of one quota group recorded in Postgres (the audit trail) on the quota day [fromMs, toMs). */
export type RecordedApiCalls = (query: { tenantId: string; appId: string; group: LiveQuotaGroup; fromMs: number; toMs: number }) => Promise<number>;

export interface ApiQuotaOptions {
  prefix: string;
  /** Seeds a day's counter Redis does not have (first call of the day, or a Redis that lost it). */
  recordedCalls?: RecordedApiCalls;
  /** Per group overrides of WeChat's daily limits (tests, or a stricter budget). */
  limits?: Partial<Record<LiveQuotaGroup, number>>;
}

export type ApiReservation =
  | { ok: true; group: LiveQuotaGroup; day: string; used: number; limit: number }
  /** `SPENT`: WeChat answered 45009 today; `DAILY`: our count reached the limit. */
  | { ok: false; group: LiveQuotaGroup; reason: 'SPENT' | 'DAILY'; used: number; limit: number; resetsAt: number };

export interface ApiQuotaUsage {
  group: LiveQuotaGroup;
  dailyLimit: number;
  used: number;
  remaining: number;
  /** WeChat answered 45009 today: nothing is left whatever the count says. */
  spent: boolean;
  resetsAt: string;
}

const DAY_MS = 86_400_000;

/**
 * KEYS: day counter, spent marker. ARGV: limit, ttl, seedMode ('' none | '?' ask | 'seed'), seed.
 * Checks and reserves in one step, so any number of instances share a day's budget exactly.
 */
const RESERVE = `
if redis.call('EXISTS', KEYS[2]) == 1 then return {0, 'SPENT', tonumber(redis.call('GET', KEYS[1]) or '0')} end
if ARGV[3] == '?' and redis.call('EXISTS', KEYS[1]) == 0 then return {0, 'UNSEEDED', 0} end
if ARGV[3] == 'seed' then redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[2], 'NX') end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then return {0, 'DAILY', used} end
used = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, 'OK', used}`;

const RELEASE = `
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 1`;

interface ApiQuotaCommands {
  wxliveApiQuotaReserve(...args: string[]): Promise<[number, string, number]>;
  wxliveApiQuotaRelease(...args: string[]): Promise<number>;
}

/**
 * The daily quotas of the live management API, per merchant and quota group (LIVE_QUOTA_GROUPS):
 * reserved before each call, like applyliveinfo's (src/jobs/quota-limiter.ts), with the same
 * hash tag per tenant and the same quota day (00:00 UTC+8).
 */
export class ApiQuotaLimiter {
  private readonly commands: ApiQuotaCommands;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: ApiQuotaOptions,
  ) {
    if (!('wxliveApiQuotaReserve' in redis)) {
      redis.defineCommand('wxliveApiQuotaReserve', { numberOfKeys: 2, lua: RESERVE });
      redis.defineCommand('wxliveApiQuotaRelease', { numberOfKeys: 1, lua: RELEASE });
    }
    this.commands = redis as unknown as ApiQuotaCommands;
  }

  limitOf(group: LiveQuotaGroup): number {
    return this.options.limits?.[group] ?? LIVE_QUOTA_GROUPS[group];
  }

  async reserve(tenantId: string, appId: string, group: LiveQuotaGroup, nowMs: number): Promise<ApiReservation> {
    const day = quotaDay(nowMs);
    const dayEnd = nextQuotaDayStart(nowMs);
    const limit = this.limitOf(group);
    const keys = this.keys(tenantId, appId, group, day);
    const ttl = String(dayEnd - nowMs + DAY_MS);
    const recorded = this.options.recordedCalls;
    let [ok, reason, used] = await this.commands.wxliveApiQuotaReserve(keys.day, keys.spent, String(limit), ttl, recorded ? '?' : '', '');
    if (recorded && ok === 0 && reason === 'UNSEEDED') {
      const calls = await recorded({ tenantId, appId, group, fromMs: dayEnd - DAY_MS, toMs: dayEnd });
      [ok, reason, used] = await this.commands.wxliveApiQuotaReserve(keys.day, keys.spent, String(limit), ttl, 'seed', String(calls));
    }
    if (ok === 1) return { ok: true, group, day, used, limit };
    return { ok: false, group, reason: reason === 'SPENT' ? 'SPENT' : 'DAILY', used, limit, resetsAt: dayEnd };
  }

  /** Gives a reservation back when the call provably never reached WeChat (no token, for instance). */
  async release(tenantId: string, appId: string, reservation: { group: LiveQuotaGroup; day: string }): Promise<void> {
    await this.commands.wxliveApiQuotaRelease(this.keys(tenantId, appId, reservation.group, reservation.day).day);
  }

  /** WeChat answered 45009: trust it over our count until the next quota day. */
  async markSpent(tenantId: string, appId: string, group: LiveQuotaGroup, nowMs: number): Promise<void> {
    const keys = this.keys(tenantId, appId, group, quotaDay(nowMs));
    await this.redis.set(keys.spent, '1', 'PX', nextQuotaDayStart(nowMs) - nowMs + DAY_MS);
  }

  /** Every group's use today, in one round trip. */
  async usage(tenantId: string, appId: string, nowMs: number): Promise<ApiQuotaUsage[]> {
    const day = quotaDay(nowMs);
    const resetsAt = new Date(nextQuotaDayStart(nowMs)).toISOString();
    const keys = LIVE_QUOTA_GROUP_NAMES.flatMap((g) => {
      const k = this.keys(tenantId, appId, g, day);
      return [k.day, k.spent];
    });
    const values = await this.redis.mget(...keys);
    return LIVE_QUOTA_GROUP_NAMES.map((group, i) => {
      const used = Number(values[i * 2] ?? 0);
      const spent = values[i * 2 + 1] !== null && values[i * 2 + 1] !== undefined;
      const dailyLimit = this.limitOf(group);
      return { group, dailyLimit, used, remaining: spent ? 0 : Math.max(0, dailyLimit - used), spent, resetsAt };
    });
  }

  private keys(tenantId: string, appId: string, group: LiveQuotaGroup, day: string): { day: string; spent: string } {
    const base = `${this.options.prefix}:{t:${tenantId}}:live-quota:${appId}:${group}`;
    return { day: `${base}:day:${day}`, spent: `${base}:spent:${day}` };
  }
}
