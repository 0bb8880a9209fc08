import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { nextQuotaDayStart } from '../lib/quota-day.js';
import type { ApplicationTransitions, AttemptRecord } from '../services/application-transitions.service.js';
import { assertNever } from '../services/errors.js';
import type { ApplicationQueue } from '../services/ports.js';
import { type ApplyCallResult, type ApplyLiveCaller, classifyCall } from './apply-outcome.js';
import type { ApplyJobData } from './apply-queue.js';
import type { QuotaLimiter } from './quota-limiter.js';
import type { TenantLimitsSource } from './tenant-limits.js';

export interface ApplyJobDeps {
  transitions: ApplicationTransitions;
  limiter: QuotaLimiter;
  tenantLimits: TenantLimitsSource;
  applyLive: ApplyLiveCaller;
  scheduleExpiry: ApplicationQueue['scheduleExpiry'];
  clock: Clock;
  logger: Logger;
  /** How long to wait for a component_verify_ticket (WeChat pushes one every 10 minutes). */
  ticketWaitMs?: number;
  /** Spreads jobs released at the same instant; tests may pass () => 0. */
  random?: () => number;
}

/** How a run ended, kept as the job's return value (handy in the BullMQ UI and in tests). */
export type ApplyJobResult = 'SUBMITTED' | 'REJECTED' | 'GONE' | `SKIPPED_${string}`;

/**
 * One apply attempt. The row is loaded first: a job re-run after a crash, for an application
 * already SUBMITTED (or CANCELLED...), does nothing, so applyliveinfo is not sent twice for it.
 */
export async function runApplyJob(job: Job<ApplyJobData>, token: string | undefined, deps: ApplyJobDeps): Promise<ApplyJobResult> {
  const { tenantId, applicationId, appId } = job.data;
  const { transitions, limiter, clock } = deps;
  const application = await transitions.load(tenantId, applicationId);
  // Deleted with its tenant (cascade): nothing left to do.
  if (!application) return 'GONE';
  if (application.status !== 'QUEUED') return `SKIPPED_${application.status}`;
  if (job.data.accepted) return recordSubmitted(job, token, job.data.accepted, deps);
  const limits = await deps.tenantLimits(tenantId);
  if (!limits) return 'GONE';

  const now = clock.now();
  const reserved = await limiter.reserve(limits, appId, now);
  if (!reserved.ok) return delay(job, token, reserved.retryAfterMs, deps, `quota: ${reserved.limit}`);

  const started = performance.now();
  let call: { ok: true; value: ApplyCallResult } | { ok: false; error: unknown };
  try {
    call = { ok: true, value: await deps.applyLive(tenantId, appId) };
  } catch (error) {
    call = { ok: false, error };
  }
  const classified = classifyCall(call, performance.now() - started);
  if (!classified) return unexpected(job, call.ok ? undefined : call.error, deps);
  if (classified.notSent) {
    await limiter.release(reserved.reservation).catch((err: unknown) => deps.logger.warn({ err, tenantId, appId }, 'quota release failed'));
  }

  const { outcome } = classified;
  switch (outcome.kind) {
    case 'SUBMITTED':
      return recordSubmitted(job, token, outcome.attempt, deps);
    case 'FINAL':
      await transitions.finished(tenantId, applicationId, outcome.status, outcome.errorCode, outcome.attempt, outcome.message);
      if (outcome.status === 'REJECTED') return 'REJECTED';
      throw new UnrecoverableError(`${outcome.errorCode}: ${outcome.message}`);
    case 'RETRY':
      if (isLastAttempt(job)) return exhausted(job, outcome.attempt, deps);
      await transitions.retrying(tenantId, applicationId, outcome.attempt, `Attempt ${job.attemptsMade + 1}: ${outcome.message}`);
      // BullMQ retries with the worker's backoff strategy (exponential with jitter).
      throw new Error(outcome.message);
    case 'QUOTA':
      await limiter.markSpent(tenantId, appId, now);
      await transitions.retrying(tenantId, applicationId, outcome.attempt, outcome.message);
      return delay(job, token, nextQuotaDayStart(now) - clock.now(), deps, 'WeChat 45009');
    case 'WAIT':
      await transitions.retrying(tenantId, applicationId, outcome.attempt, outcome.message);
      return delay(job, token, deps.ticketWaitMs ?? 600_000, deps, 'component ticket');
    default:
      return assertNever(outcome);
  }
}

/** How long a run waits before recording a remembered accepted answer again. */
const RECORD_RETRY_MS = 1_000;

/**
 * Records WeChat's acceptance. When that fails (Postgres gone) the answer is kept on the job and
 * the job waits without spending an attempt: a retry that called WeChat again would apply twice.
 */
async function recordSubmitted(job: Job<ApplyJobData>, token: string | undefined, attempt: AttemptRecord, deps: ApplyJobDeps): Promise<ApplyJobResult> {
  const { tenantId, applicationId, appId } = job.data;
  let view: Awaited<ReturnType<ApplicationTransitions['submitted']>>;
  try {
    view = await deps.transitions.submitted(tenantId, applicationId, attempt);
  } catch (error) {
    deps.logger.warn({ err: error, tenantId, applicationId }, 'recording an accepted application failed; kept on the job, recorded later without a call');
    if (!job.data.accepted) await job.updateData({ ...job.data, accepted: attempt });
    return delay(job, token, RECORD_RETRY_MS, deps, 'recording the accepted answer');
  }
  if (!view) {
    // Cancelled (or revoked) while the call was in flight: WeChat has it, the row keeps its end.
    deps.logger.info({ tenantId, applicationId }, 'application changed during an accepted call; row left as it is');
    return 'SKIPPED_CHANGED';
  }
  if (view.expiresAt) await deps.scheduleExpiry({ tenantId, applicationId, appId }, Date.parse(view.expiresAt));
  return 'SUBMITTED';
}

/** attemptsMade counts failed runs only: quota waits (moveToDelayed) do not spend attempts. */
function isLastAttempt(job: Job): boolean {
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

async function exhausted(job: Job<ApplyJobData>, attempt: AttemptRecord, deps: ApplyJobDeps): Promise<never> {
  const { tenantId, applicationId } = job.data;
  const message = `WeChat stayed unavailable through ${job.attemptsMade + 1} attempts.`;
  await deps.transitions.finished(tenantId, applicationId, 'FAILED', 'RETRIES_EXHAUSTED', attempt, message);
  throw new UnrecoverableError(`RETRIES_EXHAUSTED: ${message}`);
}

/** Not a WeChat answer (a bug, the database): BullMQ retries; the last attempt records FAILED. */
async function unexpected(job: Job<ApplyJobData>, error: unknown, deps: ApplyJobDeps): Promise<never> {
  const { tenantId, applicationId } = job.data;
  deps.logger.error({ err: error, tenantId, applicationId }, 'apply attempt failed unexpectedly');
  if (isLastAttempt(job)) {
    const attempt = { errcode: null, errmsg: error instanceof Error ? error.message : String(error), latencyMs: null };
    await deps.transitions.finished(tenantId, applicationId, 'FAILED', 'INTERNAL_SERVER_ERROR', attempt, 'Failed on our side through every attempt.');
    throw new UnrecoverableError('INTERNAL_SERVER_ERROR');
  }
  throw error instanceof Error ? error : new Error(String(error));
}

/**
 * Parks the job without failing it or spending an attempt, and without holding a worker slot
 * (other tenants and appids go on). `waitMs` is measured on the injected clock and applied as a
 * real-time delay: equal in production; a test that jumps its clock promotes delayed jobs, and a
 * job woken early simply asks the limiter again.
 */
async function delay(job: Job, token: string | undefined, waitMs: number, deps: ApplyJobDeps, reason: string): Promise<never> {
  // Up to a second of jitter, so jobs released at one instant (midnight, a freed rate slot) spread out.
  const jitter = Math.floor((deps.random ?? Math.random)() * 1000);
  await job.moveToDelayed(Date.now() + Math.max(0, waitMs) + jitter, token);
  throw new DelayedError(reason);
}
