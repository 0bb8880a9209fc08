import { describe, expect, it } from 'vitest';
import {
  type AttemptResult,
  type Decision,
  decide,
  MAX_DELIVERY_ATTEMPTS,
  parseRetryAfter,
  RETRY_DELAYS_MS,
} from '../../../src/services/webhooks/delivery-schedule.js';

const answer = (statusCode: number | null, retryAfterMs: number | null = null): AttemptResult => ({
  statusCode,
  error: statusCode === null ? 'connect ECONNREFUSED' : null,
  retryAfterMs,
});
const noJitter = () => 0;

describe('what an answer means (one row each)', () => {
  const rows: [string, AttemptResult, Decision][] = [
    ['200', answer(200), { action: 'delivered' }],
    ['204', answer(204), { action: 'delivered' }],
    ['299', answer(299), { action: 'delivered' }],
    ['410 disables the endpoint', answer(410), { action: 'gone' }],
    ['301 is not followed', answer(301), { action: 'retry', delayMs: 5_000 }],
    ['400', answer(400), { action: 'retry', delayMs: 5_000 }],
    ['404', answer(404), { action: 'retry', delayMs: 5_000 }],
    ['500', answer(500), { action: 'retry', delayMs: 5_000 }],
    ['no answer (refused, reset, timeout)', answer(null), { action: 'retry', delayMs: 5_000 }],
    ['429 with Retry-After: 120', answer(429, 120_000), { action: 'retry', delayMs: 120_000 }],
    ['503 with Retry-After: 0 waits a second', answer(503, 0), { action: 'retry', delayMs: 1_000 }],
    ['503 with Retry-After of a month waits a day', answer(503, 30 * 86_400_000), { action: 'retry', delayMs: 86_400_000 }],
    ['429 without Retry-After follows the schedule', answer(429), { action: 'retry', delayMs: 5_000 }],
    ['500 with Retry-After follows the schedule', answer(500, 120_000), { action: 'retry', delayMs: 5_000 }],
  ];
  it.each(rows)('%s', (_label, result, decision) => {
    expect(decide(result, 1, noJitter)).toEqual(decision);
  });
});

describe('the retry schedule', () => {
  it('waits 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 24 h, 24 h (about three days), then gives up', () => {
    const delays = RETRY_DELAYS_MS.map((_, i) => decide(answer(500), i + 1, noJitter));
    expect(delays.map((d) => (d.action === 'retry' ? d.delayMs / 1000 : d.action))).toEqual([5, 300, 1800, 7200, 18000, 36000, 36000, 86400, 86400]);
    expect(RETRY_DELAYS_MS.reduce((a, b) => a + b, 0) / 3_600_000).toBeCloseTo(75.6, 1);
    expect(decide(answer(500), MAX_DELIVERY_ATTEMPTS, noJitter)).toEqual({ action: 'exhausted' });
    // A success or a 410 on the last attempt still counts as such.
    expect(decide(answer(200), MAX_DELIVERY_ATTEMPTS)).toEqual({ action: 'delivered' });
    expect(decide(answer(410), MAX_DELIVERY_ATTEMPTS)).toEqual({ action: 'gone' });
  });

  it('adds up to 10 % of jitter', () => {
    const most = decide(answer(500), 2, () => 0.999_999);
    expect(most).toEqual({ action: 'retry', delayMs: 330_000 });
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.UTC(2026, 0, 15, 4, 0, 0);
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 15 Jan 2026 04:02:00 GMT', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 15 Jan 2026 03:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
  });
});
