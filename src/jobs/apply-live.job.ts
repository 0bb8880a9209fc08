import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { nextQuotaDayStart } from '../lib/quota-day.js';
import { systemContext, type TenantContext } from '../services/context.js';
import { assertNever } from '../services/errors.js';
import type { AttemptRecord, LiveApplicationLifecycle, LiveApplicationQueries } from '../services/live-application/index.js';
import type { ApplicationQueue } from '../services/ports.js';
import { type ApplyCallResult, type ApplyLiveCaller, classifyCall } from './apply-outcome.js';
import type { ApplyJobData } from './apply-queue.js';
import type { LiveGrantsGate } from './live-grants-gate.js';
import type { QuotaLimit, QuotaLimiter } from './quota-limiter.js';
import type { TenantLimitsSource } from './tenant-limits.js';

export interface ApplyJobDeps {
  lifecycle: LiveApplicationLifecycle;
  applications: Pick<LiveApplicationQueries, 'get'>;
  limiter: QuotaLimiter;
  gate: LiveGrantsGate;
  tenantLimits: TenantLimitsSource;
  applyLive: ApplyLiveCaller;
  scheduleExpiry: ApplicationQueue['scheduleExpiry'];
  clock: Clock;
  logger: Logger;
  /** How long to wait for a component_verify_ticket (WeChat pushes one every 10 minutes). */
  ticketWaitMs?: number;
  /** How long a job waits for another job's live-grants probe before asking again (default 250 ms, plus up to 250 ms of jitter). */
  probeWaitMs?: number;
  /** Spreads jobs released at the same instant; tests may pass () => 0. */
  random?: () => number;
  /** A live-grants pause began or went on (metrics). */
  onLiveGrantsPaused?: (effect: 'pause-began' | 'pause-extended') => void;
  /** A job was parked without spending an attempt (metrics). */
  onWait?: (reason: ApplyWaitReason) => void;
}

/** Why a job was parked: a limit of the limiter, WeChat's daily quota, the live-grants gate, or no ticket yet. */
export type ApplyWaitReason = QuotaLimit | 'WECHAT_DAILY_QUOTA' | 'LIVE_GRANTS_PAUSED' | 'LIVE_GRANTS_PROBING' | 'COMPONENT_TICKET';

/** Where a run is (for diagnostics: a drain that waits, or a job stuck in one step, names it). */
export type ApplyStep = 'load' | 'tenant-limits' | 'gate' | 'reserve' | 'wechat-call' | 'gate-settle' | 'record' | 'park';

/** How a run ended, kept as the job's return value (handy in the BullMQ UI and in tests). */
export type ApplyJobResult = 'SUBMITTED' | 'REJECTED' | 'GONE' | `SKIPPED_${string}`;

/**
 * One apply attempt. The row is loaded first: a job re-run after a crash, for an application
 * already SUBMITTED (or CANCELLED...), does nothing, so applyliveinfo is not sent twice for it.
 */
export async function runApplyJob(
  job: Job<ApplyJobData>,
  token: string | undefined,
  deps: ApplyJobDeps,
  step: (step: ApplyStep) => void = () => {},
): Promise<ApplyJobResult> {
  const { tenantId, applicationId, appId } = job.data;
  const { lifecycle, limiter, clock } = deps;
  const ctx = systemContext(tenantId, job.id === undefined ? undefined : `job:${job.id}`);
  step('load');
  const application = await deps.applications.get(ctx, applicationId);
  // Deleted with its tenant (cascade): nothing left to do.
  if (!application) return 'GONE';
  if (application.status !== 'QUEUED') return `SKIPPED_${application.status}`;
  step('record');
  if (job.data.accepted) return recordSubmitted(job, ctx, job.data.accepted, deps);
  step('tenant-limits');
  const limits = await deps.tenantLimits(tenantId);
  if (!limits) return 'GONE';

  const now = clock.now();
  step('gate');
  const admission = await deps.gate.admit(now, job.id === undefined ? undefined : `apply:${job.id}`);
  step('park');
  if (admission.kind === 'paused') {
    await lifecycle.hold(ctx, applicationId);
    return delay(job, token, admission.untilMs - now, deps, 'LIVE_GRANTS_PAUSED', 'live grants paused');
  }
  // A probe is one WeChat call: ask again soon, with little jitter, so the batch follows it closely.
  if (admission.kind === 'probing') return delay(job, token, deps.probeWaitMs ?? 250, deps, 'LIVE_GRANTS_PROBING', 'live grants probe in flight', 250);
  const probe = admission.probe;

  step('reserve');
  const reserved = await limiter.reserve(limits, appId, now);
  if (!reserved.ok) {
    if (probe) await deps.gate.settle(probe, 'inconclusive', now);
    return delay(job, token, reserved.retryAfterMs, deps, reserved.limit, `quota: ${reserved.limit}`);
  }

  step('wechat-call');
  const started = performance.now();
  let call: { ok: true; value: ApplyCallResult } | { ok: false; error: unknown };
  try {
    call = { ok: true, value: await deps.applyLive(tenantId, appId) };
  } catch (error) {
    call = { ok: false, error };
  }
  const classified = classifyCall(call, performance.now() - started);
  if (!classified) {
    if (probe) await deps.gate.settle(probe, 'inconclusive', now);
    return unexpected(job, ctx, call.ok ? undefined : call.error, deps);
  }
  const { outcome } = classified;
  if (classified.notSent) {
    await limiter.release(reserved.reservation).catch((err: unknown) => deps.logger.warn({ err, tenantId, appId }, 'quota release failed'));
  }
  // Only a verdict of applyliveinfo itself (accepted, or refused for this merchant) says live grants are open.
  const gateResult =
    outcome.kind === 'PAUSED' ? 'paused' : !classified.notSent && (outcome.kind === 'SUBMITTED' || outcome.kind === 'END') ? 'open' : 'inconclusive';
  step('gate-settle');
  // WeChat's answer is recorded whatever happens to the gate: a settle that fails (Redis gone)
  // leaves the gate as it was, and its probe lock runs out (probeLockMs), so another job probes.
  await settleGate(deps, probe, gateResult, outcome.attempt.errmsg ?? '').catch((err: unknown) =>
    deps.logger.warn({ err, tenantId, appId }, 'settling the live-grants gate failed; its probe lock runs out and another job probes'),
  );

  step('record');
  switch (outcome.kind) {
    case 'SUBMITTED':
      return recordSubmitted(job, ctx, outcome.attempt, deps);
    case 'END':
      await lifecycle.end(ctx, applicationId, outcome.code, outcome.attempt, outcome.message);
      if (outcome.code === 'NOT_PAID_90_DAYS') return 'REJECTED';
      throw new UnrecoverableError(`${outcome.code}: ${outcome.message}`);
    case 'PAUSED':
      await lifecycle.end(ctx, applicationId, 'LIVE_GRANTS_PAUSED', outcome.attempt, outcome.message);
      throw new UnrecoverableError(`LIVE_GRANTS_PAUSED: ${outcome.message}`);
    case 'RETRY':
      if (isLastAttempt(job)) return exhausted(job, ctx, outcome.attempt, deps);
      await lifecycle.retry(ctx, applicationId, outcome.attempt, `Attempt ${job.attemptsMade + 1}: ${outcome.message}`);
      // BullMQ retries with the worker's backoff strategy (exponential with jitter).
      throw new Error(outcome.message);
    case 'QUOTA':
      await limiter.markSpent(tenantId, appId, now);
      await lifecycle.wait(ctx, applicationId, 'DAILY_QUOTA_REACHED', outcome.attempt, outcome.message);
      return delay(job, token, nextQuotaDayStart(now) - clock.now(), deps, 'WECHAT_DAILY_QUOTA', 'WeChat 45009');
    case 'WAIT':
      await lifecycle.wait(ctx, applicationId, 'COMPONENT_TICKET_MISSING', outcome.attempt, outcome.message);
      return delay(job, token, deps.ticketWaitMs ?? 600_000, deps, 'COMPONENT_TICKET', 'component ticket');
    default:
      return assertNever(outcome);
  }
}

async function settleGate(deps: ApplyJobDeps, probe: string | null, result: 'open' | 'paused' | 'inconclusive', errmsg: string): Promise<void> {
  const effect = await deps.gate.settle(probe, result, deps.clock.now(), errmsg);
  if (effect === 'none') return;
  const until = new Date(deps.clock.now() + deps.gate.pauseMs).toISOString();
  if (effect === 'pause-began') {
    deps.logger.warn({ errcode: 268489001, errmsg, until }, 'WeChat grants no new live permissions; applyliveinfo paused for every tenant until a probe');
  } else {
    deps.logger.info({ errcode: 268489001, errmsg, until }, 'live grants still paused after a probe');
  }
  deps.onLiveGrantsPaused?.(effect);
}

/**
 * Records WeChat's acceptance. When that fails (Postgres gone, or a bug) the answer is kept on
 * the job and the run fails like any other: BullMQ retries it with backoff, and the retry
 * records the kept answer without calling WeChat again (a second call would apply twice). After
 * the last attempt the job fails, loudly; the reconciler's replacement job keeps the answer too.
 */
async function recordSubmitted(job: Job<ApplyJobData>, ctx: TenantContext, attempt: AttemptRecord, deps: ApplyJobDeps): Promise<ApplyJobResult> {
  const { tenantId, applicationId, appId } = job.data;
  let view: Awaited<ReturnType<LiveApplicationLifecycle['submit']>>;
  try {
    view = await deps.lifecycle.submit(ctx, applicationId, attempt);
  } catch (error) {
    if (!job.data.accepted) await job.updateData({ ...job.data, accepted: attempt });
    const last = isLastAttempt(job);
    deps.logger[last ? 'error' : 'warn'](
      { err: error, tenantId, applicationId, attempt: job.attemptsMade + 1 },
      last
        ? 'recording an accepted application failed on the last attempt; the job fails, its answer kept for the reconciler'
        : 'recording an accepted application failed; kept on the job, retried without a call',
    );
    throw error instanceof Error ? error : new Error(String(error));
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

async function exhausted(job: Job<ApplyJobData>, ctx: TenantContext, attempt: AttemptRecord, deps: ApplyJobDeps): Promise<never> {
  const message = `WeChat stayed unavailable through ${job.attemptsMade + 1} attempts.`;
  await deps.lifecycle.end(ctx, job.data.applicationId, 'RETRIES_EXHAUSTED', attempt, message);
  throw new UnrecoverableError(`RETRIES_EXHAUSTED: ${message}`);
}

/** Not a WeChat answer (a bug, the database): BullMQ retries; the last attempt records FAILED. */
async function unexpected(job: Job<ApplyJobData>, ctx: TenantContext, error: unknown, deps: ApplyJobDeps): Promise<never> {
  const { tenantId, applicationId } = job.data;
  deps.logger.error({ err: error, tenantId, applicationId }, 'apply attempt failed unexpectedly');
  if (isLastAttempt(job)) {
    const attempt = { errcode: null, errmsg: error instanceof Error ? error.message : String(error), latencyMs: null };
    await deps.lifecycle.end(ctx, applicationId, 'INTERNAL_SERVER_ERROR', attempt, 'Failed on our side through every attempt.');
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
async function delay(
  job: Job,
  token: string | undefined,
  waitMs: number,
  deps: ApplyJobDeps,
  reason: ApplyWaitReason,
  detail: string,
  maxJitterMs = 1000,
): Promise<never> {
  // Up to a second of jitter, so jobs released at one instant (midnight, a freed rate slot) spread out.
  const jitter = Math.floor((deps.random ?? Math.random)() * maxJitterMs);
  await job.moveToDelayed(Date.now() + Math.max(0, waitMs) + jitter, token);
  deps.onWait?.(reason);
  throw new DelayedError(detail);
}
