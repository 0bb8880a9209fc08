/** WeChat's daily quotas reset at 00:00 China Standard Time (UTC+8, no daylight saving). */
const CST_OFFSET_MS = 8 * 3600_000;
const DAY_MS = 86_400_000;

/** The quota day an instant falls in, as `YYYYMMDD` in UTC+8. */
export function quotaDay(nowMs: number): string {
  return new Date(nowMs + CST_OFFSET_MS).toISOString().slice(0, 10).replaceAll('-', '');
}

/** Epoch ms of the next 00:00 UTC+8 strictly after `nowMs`. */
export function nextQuotaDayStart(nowMs: number): number {
  return Math.floor((nowMs + CST_OFFSET_MS) / DAY_MS) * DAY_MS + DAY_MS - CST_OFFSET_MS;
}
