import type { Config } from '../config/config.js';

/** Worker timings (JOBS_* in the environment, parsed with the rest of the configuration). */
export type JobsTuning = Config['jobs'];

export const DEFAULT_JOBS_TUNING: JobsTuning = {
  lockDurationMs: 30_000,
  stalledIntervalMs: 30_000,
  reconcileIntervalMs: 60_000,
  ticketWaitMs: 600_000,
  retentionIntervalMs: 600_000,
};
