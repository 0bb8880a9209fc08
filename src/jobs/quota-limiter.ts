import { randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '../lib/clock.js';
import { nextQuotaDayStart, quotaDay } from '../lib/quota-day.js';
import type { RedisClient } from '../lib/redis.js';
import type { QuotaUsage } from '../services/quota.service.js';
import { tenantQuotaKeys } from './quota-keys.js';

/** A tenant's quota settings (a `TenantSummary` fits). */
export interface TenantLimits {
  id: string;
  dailyQuotaPerApp: number;
  /** null = unlimited */
  dailyQuotaPerTenant: number | null;
  callsPerSecond: number;
}

/** Which limit refused a reservation. */
export type QuotaLimit = 'APP_SPENT' | 'APP_DAILY' | 'TENANT_DAILY' | 'APP_WINDOW' | 'TENANT_RATE';

export interface Reservation {
  tenantId: string;
  appId: string;
  day: string;
  /** Unique member of the window sets, so the reservation can be released exactly once. */
  member: string;
  appUsed: number;
  tenantUsed: number;
}

export type ReserveResult =
  | { ok: true; reservation: Reservation }
  /** `reopensAt` is on the clock of the limit (see QuotaLimiter); `retryAfterMs` is relative to that clock's now. */
  | { ok: false; limit: QuotaLimit; reopensAt: number; retryAfterMs: number };

/** The read side of the limiter is the services' QuotaUsage (it implements QuotaReader). */
export type QuotaView = QuotaUsage;

/**
 * Calls recorded in Postgres in [fromMs, toMs) for each appid of a tenant that made any, and for
 * the tenant: the floor of a day's counts when Redis no longer has them (restarted empty, flushed).
 */
export type RecordedCalls = (query: { tenantId: string; fromMs: number; toMs: number }) => Promise<{
  byApp: ReadonlyMap<string, number>;
  tenant: number;
}>;

export interface QuotaLimiterOptions {
  prefix: string;
  /**
   * Seeds a quota day's counters that Redis does not have from the calls Postgres recorded, so a
   * Redis that lost its data does not grant the day's quota twice: once per tenant and quota day
   * (every appid's counter at once, then a marker), not once per appid. Without it, a missing
   * counter is 0.
   */
  recordedCalls?: RecordedCalls;
  /** Calls per appid in the short window (APPLY_HOURLY_CAP_PER_APP). */
  windowCapPerApp: number;
  windowMs?: number;
  /**
   * Wall clock for the per-second limit. The 45011 check WeChat makes is in real time whatever
   * quota day a test pretends it is, and a frozen test clock would otherwise never free a slot.
   */
  rateClock?: Clock;
}

const DAY_MS = 86_400_000;

/**
 * One EVAL checks every limit and reserves all of them, or none: correct with any number of
 * workers. Callers pass `now` from the injected Clock rather than Redis TIME, so quota days,
 * windows and the 45009 mark follow the clock tests move. TTLs are relative (PEXPIRE, never
 * PEXPIREAT): a test clock months away from Redis's own time must not expire keys at once.
 * KEYS: appDay tenantDay appSpent appWindow tenantRate daySeeded
 * ARGV: now rateNow appLimit tenantLimit(-1 = none) windowCap windowMs perSecond dayEnd member dayTtl
 *       seedMode ('' none | '?' ask)
 * With seedMode '?', a quota day whose counters were not seeded yet (no daySeeded marker: the
 * day's first call of the tenant, or Redis lost its data) answers UNSEEDED; the caller seeds every
 * counter of the tenant's day from the calls Postgres recorded (SEED) and asks again.
 */
const RESERVE = `
local now = tonumber(ARGV[1])
local rateNow = tonumber(ARGV[2])
local dayEnd = tonumber(ARGV[8])
if redis.call('EXISTS', KEYS[3]) == 1 then return {0, 'APP_SPENT', dayEnd} end
local tenantLimit = tonumber(ARGV[4])
if ARGV[11] == '?' and redis.call('EXISTS', KEYS[6]) == 0 then return {0, 'UNSEEDED', 0} end
local appUsed = tonumber(redis.call('GET', KEYS[1]) or '0')
if appUsed >= tonumber(ARGV[3]) then return {0, 'APP_DAILY', dayEnd} end
local tenantUsed = tonumber(redis.call('GET', KEYS[2]) or '0')
if tenantLimit >= 0 and tenantUsed >= tenantLimit then return {0, 'TENANT_DAILY', dayEnd} end
local windowMs = tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - windowMs)
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[5]) then
  local oldest = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
  return {0, 'APP_WINDOW', tonumber(oldest[2]) + windowMs}
end
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', rateNow - 1000)
if redis.call('ZCARD', KEYS[5]) >= tonumber(ARGV[7]) then
  local oldest = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
  return {0, 'TENANT_RATE', tonumber(oldest[2]) + 1000}
end
local ttl = tonumber(ARGV[10])
appUsed = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ttl)
tenantUsed = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('ZADD', KEYS[4], now, ARGV[9])
redis.call('PEXPIRE', KEYS[4], windowMs)
redis.call('ZADD', KEYS[5], rateNow, ARGV[9])
redis.call('PEXPIRE', KEYS[5], 2000)
return {1, appUsed, tenantUsed}`;

/**
 * Seeds a quota day. KEYS: tenantDay daySeeded appDay... ARGV: ttl tenantCount mark(1|0) appCount...
 * Counters are set only where missing (NX): one a reservation made since is kept. The marker is set
 * by the last chunk, once every appid's counter is there.
 */
const SEED = `
local ttl = ARGV[1]
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl, 'NX')
for i = 3, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ttl, 'NX') end
if ARGV[3] == '1' then redis.call('SET', KEYS[2], '1', 'PX', ttl) end
return 1`;

/** Appid counters per SEED call: a tenant with many merchants seeds in several short scripts. */
const SEED_CHUNK = 1000;

/** Gives a reservation back once (the window member is the proof it is still held). */
const RELEASE = `
if redis.call('ZREM', KEYS[4], ARGV[1]) == 1 then
  if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
  if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
end
redis.call('ZREM', KEYS[5], ARGV[1])
return 1`;

interface QuotaCommands {
  wxliveQuotaReserve(...args: string[]): Promise<[number, string | number, number]>;
  wxliveQuotaRelease(...args: string[]): Promise<number>;
  wxliveQuotaSeed(numberOfKeys: number, ...args: string[]): Promise<number>;
}

/**
 * Per appid a daily quota and a short-window cap (so a retry storm cannot spend a day in
 * minutes), per tenant a daily quota and calls per second (to stay under 45011). Reserved before
 * the HTTP call: a call whose outcome is unknown has counted at WeChat too.
 */
export class QuotaLimiter {
  private readonly windowMs: number;
  private readonly rateClock: Clock;
  private readonly commands: QuotaCommands;
  /** Seeds in flight, by tenant and day: the jobs of a tenant that find its day unseeded share one. */
  private readonly seeding = new Map<string, Promise<void>>();

  constructor(
    private readonly redis: RedisClient,
    private readonly options: QuotaLimiterOptions,
  ) {
    this.windowMs = options.windowMs ?? 3600_000;
    this.rateClock = options.rateClock ?? systemClock;
    if (!('wxliveQuotaReserve' in redis)) {
      redis.defineCommand('wxliveQuotaReserve', { numberOfKeys: 6, lua: RESERVE });
      redis.defineCommand('wxliveQuotaRelease', { numberOfKeys: 6, lua: RELEASE });
      redis.defineCommand('wxliveQuotaSeed', { lua: SEED });
    }
    this.commands = redis as unknown as QuotaCommands;
  }

  async reserve(tenant: TenantLimits, appId: string, nowMs: number): Promise<ReserveResult> {
    const day = quotaDay(nowMs);
    const dayEnd = nextQuotaDayStart(nowMs);
    const rateNow = this.rateClock.now();
    const member = `${nowMs}-${randomUUID()}`;
    const recorded = this.options.recordedCalls;
    const run = () =>
      this.commands.wxliveQuotaReserve(
        ...this.keysFor(tenant.id, appId, day),
        String(nowMs),
        String(rateNow),
        String(tenant.dailyQuotaPerApp),
        String(tenant.dailyQuotaPerTenant ?? -1),
        String(this.options.windowCapPerApp),
        String(this.windowMs),
        String(tenant.callsPerSecond),
        String(dayEnd),
        member,
        String(dayEnd - nowMs + DAY_MS),
        recorded ? '?' : '',
      );
    let [ok, a, b] = await run();
    if (recorded && ok === 0 && a === 'UNSEEDED') {
      // First call of the tenant's quota day, or Redis lost the day's counts: start from what Postgres recorded.
      await this.seedDay(recorded, tenant.id, day, dayEnd, nowMs);
      [ok, a, b] = await run();
      if (ok === 0 && a === 'UNSEEDED') throw new Error('quota day still unseeded after seeding it');
    }
    if (ok === 1) return { ok: true, reservation: { tenantId: tenant.id, appId, day, member, appUsed: Number(a), tenantUsed: b } };
    const limit = String(a) as QuotaLimit;
    const reopensAt = b;
    return { ok: false, limit, reopensAt, retryAfterMs: Math.max(0, reopensAt - (limit === 'TENANT_RATE' ? rateNow : nowMs)) };
  }

  /** Seeds every counter of the tenant's quota day (see SEED); concurrent callers in this process share one. */
  private seedDay(recorded: RecordedCalls, tenantId: string, day: string, dayEnd: number, nowMs: number): Promise<void> {
    const key = `${tenantId}:${day}`;
    let flight = this.seeding.get(key);
    if (!flight) {
      flight = (async () => {
        const calls = await recorded({ tenantId, fromMs: dayEnd - DAY_MS, toMs: dayEnd });
        const k = tenantQuotaKeys(this.options.prefix, tenantId);
        const ttl = String(dayEnd - nowMs + DAY_MS);
        const apps = [...calls.byApp];
        for (let i = 0; i === 0 || i < apps.length; i += SEED_CHUNK) {
          const chunk = apps.slice(i, i + SEED_CHUNK);
          const last = i + SEED_CHUNK >= apps.length;
          await this.commands.wxliveQuotaSeed(
            2 + chunk.length,
            k.tenantDay(day),
            k.daySeeded(day),
            ...chunk.map(([appId]) => k.appDay(appId, day)),
            ttl,
            String(calls.tenant),
            last ? '1' : '0',
            ...chunk.map(([, n]) => String(n)),
          );
        }
      })().finally(() => this.seeding.delete(key));
      this.seeding.set(key, flight);
    }
    return flight;
  }

  /** Gives a reservation back when the call provably never reached applyliveinfo (e.g. no token). */
  async release(r: Reservation): Promise<void> {
    await this.commands.wxliveQuotaRelease(...this.keysFor(r.tenantId, r.appId, r.day), r.member);
  }

  /** WeChat answered 45009: its count and ours disagree; trust WeChat until the next quota day. */
  async markSpent(tenantId: string, appId: string, nowMs: number): Promise<void> {
    const keys = tenantQuotaKeys(this.options.prefix, tenantId);
    await this.redis.set(keys.appSpent(appId, quotaDay(nowMs)), '1', 'PX', nextQuotaDayStart(nowMs) - nowMs + DAY_MS);
  }

  /** The read side for the API's `quota(appId)`. */
  async getQuota(tenant: TenantLimits, appId: string, nowMs: number): Promise<QuotaView> {
    const day = quotaDay(nowMs);
    const keys = tenantQuotaKeys(this.options.prefix, tenant.id);
    const results = await this.redis.pipeline().get(keys.appDay(appId, day)).get(keys.tenantDay(day)).exists(keys.appSpent(appId, day)).exec();
    const value = (i: number): unknown => {
      const entry = results?.[i];
      if (!entry || entry[0]) throw entry?.[0] ?? new Error('quota read returned no result');
      return entry[1];
    };
    const used = Number(value(0) ?? 0);
    const tenantUsed = Number(value(1) ?? 0);
    const spent = Number(value(2)) === 1;
    const tenantLeft = tenant.dailyQuotaPerTenant === null ? Number.POSITIVE_INFINITY : tenant.dailyQuotaPerTenant - tenantUsed;
    const remaining = spent ? 0 : Math.max(0, Math.min(tenant.dailyQuotaPerApp - used, tenantLeft));
    return {
      dailyLimit: tenant.dailyQuotaPerApp,
      used,
      remaining,
      resetsAt: new Date(nextQuotaDayStart(nowMs)).toISOString(),
      tenantDailyLimit: tenant.dailyQuotaPerTenant,
      tenantUsed,
    };
  }

  /** applyliveinfo calls reserved today per tenant (for the metrics scrape); one GET each. */
  async tenantsUsedToday(tenantIds: readonly string[], nowMs: number): Promise<Map<string, number>> {
    const day = quotaDay(nowMs);
    const values = await Promise.all(tenantIds.map((id) => this.redis.get(tenantQuotaKeys(this.options.prefix, id).tenantDay(day))));
    return new Map(tenantIds.map((id, i) => [id, Number(values[i] ?? 0)]));
  }

  private keysFor(tenantId: string, appId: string, day: string): [string, string, string, string, string, string] {
    const k = tenantQuotaKeys(this.options.prefix, tenantId);
    return [k.appDay(appId, day), k.tenantDay(day), k.appSpent(appId, day), k.appWindow(appId), k.tenantRate, k.daySeeded(day)];
  }
}
