import { DelayedError, type Job } from 'bullmq';
import type { Clock } from '../lib/clock.js';
import { systemContext } from '../services/context.js';
import type { LiveApplicationLifecycle, LiveApplicationQueries } from '../services/live-application/index.js';
import type { ApplyJobData } from './apply-queue.js';

export interface ExpireJobDeps {
  lifecycle: Pick<LiveApplicationLifecycle, 'expire'>;
  applications: Pick<LiveApplicationQueries, 'get'>;
  clock: Clock;
}

/**
 * The 24 h check of a SUBMITTED application. `expire` acts only if the row is still SUBMITTED
 * and due, so an OPENED application is left alone; a job woken before its time (promoted, or a
 * clock that disagrees with Redis) goes back to sleep for the rest of the window.
 */
export async function runExpireJob(job: Job<ApplyJobData>, token: string | undefined, deps: ExpireJobDeps): Promise<string> {
  const { tenantId, applicationId } = job.data;
  const ctx = systemContext(tenantId, job.id === undefined ? undefined : `job:${job.id}`);
  if (await deps.lifecycle.expire(ctx, applicationId)) return 'EXPIRED';
  const application = await deps.applications.get(ctx, applicationId);
  if (application?.status === 'SUBMITTED' && application.expiresAt) {
    const waitMs = Date.parse(application.expiresAt) - deps.clock.now();
    if (waitMs > 0) {
      await job.moveToDelayed(Date.now() + waitMs, token);
      throw new DelayedError('not due yet');
    }
  }
  return `SKIPPED_${application?.status ?? 'GONE'}`;
}
