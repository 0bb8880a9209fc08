import type { LiveApplicationView } from './live-application/application.row.js';

/** What the services need from the job queue (implemented in src/jobs). */
export interface ApplicationQueue {
  /** Adds one apply job per application; jobId = application id, so a job is never doubled. */
  enqueue(jobs: readonly { tenantId: string; applicationId: string; appId: string }[]): Promise<void>;
  /** Removes a waiting or delayed job; false when it is running or gone. */
  remove(applicationId: string): Promise<boolean>;
  /** Schedules the 24 h expiry check of a SUBMITTED application. */
  scheduleExpiry(job: { tenantId: string; applicationId: string; appId: string }, atMs: number): Promise<void>;
}

/** A committed change and the id of its change-feed outbox row. */
export interface RecordedChange {
  outboxId: number;
  application: LiveApplicationView;
}

/**
 * Publishes committed changes to subscribers on every instance (implemented in src/events, by
 * the outbox relay). Never rejects: a change it could not send stays in the outbox, and the
 * relay sends it later; the promise settles when the attempt is over.
 */
export interface ChangePublisher {
  publish(changes: readonly RecordedChange[]): Promise<void>;
}

/** Which cached API key lookups every instance must forget: revoked keys, or all keys of a tenant whose settings changed. */
export type ApiKeyInvalidation = { keyIds: string[] } | { tenantId: string };

/**
 * Tells every gateway instance to forget cached key lookups (implemented in src/events, over
 * Redis pub/sub). Never rejects: a message it could not send is logged, and the cache's TTL
 * bounds how long another instance may still accept the key.
 */
export interface ApiKeyInvalidations {
  publish(invalidation: ApiKeyInvalidation): Promise<void>;
}
