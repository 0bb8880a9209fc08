import { describe, expect, it } from 'vitest';
import { DEFAULT_JOBS_TUNING, loadJobsTuning } from '../../src/jobs/jobs-tuning.js';

describe('worker tuning (JOBS_*)', () => {
  it('defaults to production timings', () => {
    expect(loadJobsTuning({})).toEqual(DEFAULT_JOBS_TUNING);
  });

  it('reads short timings for tests and names a bad variable', () => {
    expect(loadJobsTuning({ JOBS_LOCK_DURATION_MS: '1500', JOBS_STALLED_INTERVAL_MS: '500' })).toMatchObject({ lockDurationMs: 1500, stalledIntervalMs: 500 });
    expect(() => loadJobsTuning({ JOBS_LOCK_DURATION_MS: 'soon' })).toThrow(/^JOBS_LOCK_DURATION_MS: /);
  });
});
