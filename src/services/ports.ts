import type { LiveApplicationView } from './live-application.view.js';

/** What the services need from the job queue (implemented in src/jobs). */
export interface ApplicationQueue {
  /** Adds one apply job per application; jobId = application id, so a job is never doubled. */
  enqueue(jobs: readonly { tenantId: string; applicationId: string; appId: string }[]): Promise<void>;
  /** Removes a waiting or delayed job; false when it is running or gone. */
  remove(applicationId: string): Promise<boolean>;
  /** Schedules the 24 h expiry check of a SUBMITTED application. */
  scheduleExpiry(job: { tenantId: string; applicationId: string; appId: string }, atMs: number): Promise<void>;
}

/** Publishes every transition to subscribers on every instance (implemented in src/events). */
export interface ChangePublisher {
  publish(changes: readonly LiveApplicationView[]): Promise<void>;
}
