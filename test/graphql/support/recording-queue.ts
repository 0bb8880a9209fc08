import type { ApplicationQueue } from '../../../src/services/ports.js';

type Job = { tenantId: string; applicationId: string; appId: string };

/** Stands in for the BullMQ queue port only: records what the services asked of it. */
export class RecordingQueue implements ApplicationQueue {
  readonly enqueued: Job[] = [];
  readonly removed: string[] = [];
  readonly expiries: { job: Job; atMs: number }[] = [];

  async enqueue(jobs: readonly Job[]): Promise<void> {
    this.enqueued.push(...jobs);
  }

  async remove(applicationId: string): Promise<boolean> {
    this.removed.push(applicationId);
    return true;
  }

  async scheduleExpiry(job: Job, atMs: number): Promise<void> {
    this.expiries.push({ job, atMs });
  }
}
