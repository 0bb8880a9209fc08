/**
 * When a delivery is tried again, and what an answer means: the one table of outbound
 * decisions (test/webhooks/outbound/delivery-schedule.test.ts walks it row by row).
 */

const S = 1_000;
const MIN = 60 * S;
const H = 60 * MIN;

/**
 * Delays after attempt 1, 2, ... fails: about three days in all, then FAILED. Each gets up to
 * 10 % of jitter added, so deliveries failed by one outage do not come back in lockstep.
 */
export const RETRY_DELAYS_MS: readonly number[] = [5 * S, 5 * MIN, 30 * MIN, 2 * H, 5 * H, 10 * H, 10 * H, 24 * H, 24 * H];

/** Attempts in all: the first plus one per retry delay. */
export const MAX_DELIVERY_ATTEMPTS = RETRY_DELAYS_MS.length + 1;

/** An endpoint whose every attempt failed for this long is disabled, with the reason. */
export const DISABLE_FAILING_AFTER_MS = 5 * 24 * H;

/** Each attempt's limit, connecting and reading the answer included. */
export const DELIVERY_TIMEOUT_MS = 15 * S;

/** Retry-After is honoured up to this (a receiver cannot park a delivery for a month). */
export const MAX_RETRY_AFTER_MS = 24 * H;

/** What one attempt came to, as the sender reports it. */
export interface AttemptResult {
  /** null: no HTTP answer (refused, reset, timed out, address not allowed). */
  statusCode: number | null;
  error: string | null;
  /** Parsed Retry-After of the answer, if any. */
  retryAfterMs: number | null;
}

export type Decision =
  | { action: 'delivered' }
  /** 410 Gone: the receiver says the endpoint is no more; disable it now. */
  | { action: 'gone' }
  | { action: 'retry'; delayMs: number }
  | { action: 'exhausted' };

/**
 * 2xx is delivered; 410 disables the endpoint; anything else (another status, redirects
 * included, or no answer) is retried on the schedule, with 429 and 503 waiting for their
 * Retry-After instead when they send one. `attempt` is the attempt that just ended (1-based).
 */
export function decide(result: AttemptResult, attempt: number, random: () => number = Math.random): Decision {
  const code = result.statusCode;
  if (code !== null && code >= 200 && code < 300) return { action: 'delivered' };
  if (code === 410) return { action: 'gone' };
  if (attempt >= MAX_DELIVERY_ATTEMPTS) return { action: 'exhausted' };
  if ((code === 429 || code === 503) && result.retryAfterMs !== null) {
    return { action: 'retry', delayMs: Math.min(MAX_RETRY_AFTER_MS, Math.max(S, result.retryAfterMs)) };
  }
  const base = RETRY_DELAYS_MS[attempt - 1] ?? RETRY_DELAYS_MS[RETRY_DELAYS_MS.length - 1] ?? H;
  return { action: 'retry', delayMs: Math.round(base + random() * base * 0.1) };
}

/** Retry-After as seconds or an HTTP date (RFC 9110), in ms from `nowMs`; null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | null {
  if (value === undefined || value.trim() === '') return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}
