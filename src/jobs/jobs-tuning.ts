import { z } from 'zod';

/**
 * Worker timings that only tests and operators tuning crash recovery change. Parsed here until
 * they join `src/config/config.ts` (JOBS_* variables; defaults are production values).
 */
const tuningSchema = z.object({
  JOBS_LOCK_DURATION_MS: z.coerce.number().int().min(500).default(30_000),
  JOBS_STALLED_INTERVAL_MS: z.coerce.number().int().min(200).default(30_000),
  JOBS_RECONCILE_INTERVAL_MS: z.coerce.number().int().min(1_000).default(60_000),
  JOBS_TICKET_WAIT_MS: z.coerce.number().int().min(1_000).default(600_000),
});

export interface JobsTuning {
  lockDurationMs: number;
  stalledIntervalMs: number;
  reconcileIntervalMs: number;
  ticketWaitMs: number;
}

export const DEFAULT_JOBS_TUNING: JobsTuning = {
  lockDurationMs: 30_000,
  stalledIntervalMs: 30_000,
  reconcileIntervalMs: 60_000,
  ticketWaitMs: 600_000,
};

export function loadJobsTuning(env: Record<string, string | undefined>): JobsTuning {
  const parsed = tuningSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('JOBS_') && v !== undefined && v !== '')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${issue?.path.join('.') ?? 'JOBS_*'}: ${issue?.message ?? 'invalid'}`);
  }
  const e = parsed.data;
  return {
    lockDurationMs: e.JOBS_LOCK_DURATION_MS,
    stalledIntervalMs: e.JOBS_STALLED_INTERVAL_MS,
    reconcileIntervalMs: e.JOBS_RECONCILE_INTERVAL_MS,
    ticketWaitMs: e.JOBS_TICKET_WAIT_MS,
  };
}
