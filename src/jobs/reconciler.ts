import { and, asc, eq, gt } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { liveApplications } from '../db/tables.js';
import { asSystem } from '../db/tenant-scope.js';
import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';
import { systemContext } from '../services/context.js';
import type { LiveApplicationLifecycle, LiveApplicationQueries } from '../services/live-application/index.js';
import type { ApplyJobData, ApplyQueue } from './apply-queue.js';
import { reconcilerLockKey } from './quota-keys.js';

export interface ReconcilerDeps {
  db: Db;
  redis: RedisClient;
  redisPrefix: string;
  queue: ApplyQueue;
  lifecycle: Pick<LiveApplicationLifecycle, 'expire'>;
  applications: Pick<LiveApplicationQueries, 'dueForExpiry'>;
  logger: Logger;
  pageSize?: number;
}

export interface ReconcileReport {
  /** QUEUED rows looked at. */
  checked: number;
  /** Rows that had no job (Redis restarted empty, or the enqueue after commit failed). */
  enqueued: number;
  /** Rows whose job had finished while the row stayed QUEUED (the row's update was lost). */
  replaced: number;
  /** SUBMITTED rows past their 24 h window, expired by the sweep (their delayed job was lost). */
  expired: number;
  /** False when another process held the lock and this run did nothing. */
  ran: boolean;
}

// Deletes the lock only while it holds our token: a run that outlived its lock must not free the
// next holder's. One key, so one Cluster slot.
const RELEASE_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * The application row is the source of truth and the job only its shadow: this re-creates the
 * jobs of QUEUED rows that have none, and sweeps expiries whose delayed job is gone. Safe to run
 * anywhere at any time: jobId = application id, and the worker re-checks the row's status.
 */
export class Reconciler {
  constructor(private readonly deps: ReconcilerDeps) {}

  async runOnce(): Promise<ReconcileReport> {
    const report: ReconcileReport = { checked: 0, enqueued: 0, replaced: 0, expired: 0, ran: false };
    const lockKey = reconcilerLockKey(this.deps.redisPrefix);
    // Several worker processes run this on an interval; one at a time is enough.
    const token = `${process.pid}-${Math.random()}`;
    if ((await this.deps.redis.set(lockKey, token, 'PX', 120_000, 'NX')) !== 'OK') return report;
    report.ran = true;
    try {
      await this.reenqueue(report);
      await this.sweepExpired(report);
    } finally {
      await this.deps.redis.eval(RELEASE_LOCK, 1, lockKey, token);
    }
    if (report.enqueued + report.replaced + report.expired > 0) this.deps.logger.info(report, 'reconciler repaired jobs');
    return report;
  }

  private async reenqueue(report: ReconcileReport): Promise<void> {
    const pageSize = this.deps.pageSize ?? 500;
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      // Every tenant's QUEUED rows: a cross-tenant scan, so the system scope.
      const from = after;
      const rows: ApplyJobData[] = await asSystem(this.deps.db, (db) =>
        db
          .select({ applicationId: liveApplications.id, tenantId: liveApplications.tenantId, appId: liveApplications.appId })
          .from(liveApplications)
          .where(and(eq(liveApplications.status, 'QUEUED'), gt(liveApplications.id, from)))
          .orderBy(asc(liveApplications.id))
          .limit(pageSize),
      );
      if (rows.length === 0) return;
      report.checked += rows.length;
      const presence = await this.deps.queue.presence(rows.map((r) => r.applicationId));
      const missing = rows.filter((_, i) => presence[i] === 'missing');
      const finished = rows.filter((_, i) => presence[i] === 'finished');
      if (missing.length > 0) await this.deps.queue.enqueue(missing);
      if (finished.length > 0) await this.deps.queue.replace(finished);
      report.enqueued += missing.length;
      report.replaced += finished.length;
      const last = rows[rows.length - 1];
      if (!last || rows.length < pageSize) return;
      after = last.applicationId;
    }
  }

  private async sweepExpired(report: ReconcileReport): Promise<void> {
    for (;;) {
      const due = await this.deps.applications.dueForExpiry(500);
      let changed = 0;
      for (const d of due) if (await this.deps.lifecycle.expire(systemContext(d.tenantId, 'reconciler'), d.id)) changed += 1;
      report.expired += changed;
      if (due.length < 500 || changed === 0) return;
    }
  }
}

/**
 * Runs the reconciler now (a worker starting after a Redis restart repairs at once) and then every
 * `intervalMs` until closed; a failed run is logged and retried next time.
 */
export function startReconciler(reconciler: Reconciler, intervalMs: number, logger: Logger): { close(): Promise<void> } {
  const run = () => reconciler.runOnce().catch((err: unknown) => logger.error({ err }, 'reconciler run failed'));
  let running: Promise<unknown> = run();
  const timer = setInterval(() => {
    running = run();
  }, intervalMs);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}
