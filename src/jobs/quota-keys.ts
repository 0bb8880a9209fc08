/**
 * Redis keys of the apply pipeline. Every key one reservation touches carries the same hash tag
 * `{t:<tenantId>}` (as the change feed's stream does), so one EVAL stays on one Cluster slot.
 */
export interface TenantQuotaKeys {
  /** Calls reserved by the tenant on a quota day (YYYYMMDD, UTC+8). */
  tenantDay(day: string): string;
  /** Calls reserved for one authorizer appid on a quota day. */
  appDay(appId: string, day: string): string;
  /** Set when WeChat answered 45009 for the appid: spent until the next quota day. */
  appSpent(appId: string, day: string): string;
  /** Sorted set of the appid's reservations in the short window (scores: quota-clock ms). */
  appWindow(appId: string): string;
  /** Sorted set of the tenant's reservations in the last second (scores: wall-clock ms). */
  tenantRate: string;
  /** Jobs the tenant enqueued recently: the base of its jobs' priorities (fairness). */
  enqueued: string;
  /**
   * Set once a quota day's counters of the tenant and of every one of its appids were seeded from
   * the calls Postgres recorded: from then on a missing appid counter means no call that day.
   */
  daySeeded(day: string): string;
}

export function tenantQuotaKeys(prefix: string, tenantId: string): TenantQuotaKeys {
  const base = `${prefix}:{t:${tenantId}}:quota`;
  return {
    tenantDay: (day) => `${base}:day:${day}`,
    appDay: (appId, day) => `${base}:app:${appId}:day:${day}`,
    appSpent: (appId, day) => `${base}:app:${appId}:spent:${day}`,
    appWindow: (appId) => `${base}:app:${appId}:window`,
    tenantRate: `${base}:rate`,
    enqueued: `${base}:enqueued`,
    daySeeded: (day) => `${base}:day:${day}:seeded`,
  };
}

/**
 * BullMQ's key prefix. BullMQ needs every key of a queue on one Cluster slot, and its docs say
 * to get that with a hash tag in the prefix; `{<redisPrefix>}` also keeps each deployment's (and
 * each test file's) queues apart on a shared Redis.
 */
export function bullPrefix(redisPrefix: string): string {
  return `{${redisPrefix}}:bull`;
}

/** The lock that keeps reconciler runs of several worker processes from overlapping. */
export function reconcilerLockKey(redisPrefix: string): string {
  return `${redisPrefix}:reconciler:lock`;
}
