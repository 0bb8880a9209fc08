import { asc, inArray, lte } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { changeOutbox } from '../db/tables.js';
import { asSystem } from '../db/tenant-scope.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { viewOfJson } from '../services/live-application/application.row.js';
import type { ChangePublisher, RecordedChange } from '../services/ports.js';
import type { RedisChangePublisher } from './change-feed.js';

/** A change as the relay deletes its outbox row: with its stream cursor when this publish added it (null when the stream had it already). */
export interface PublishedChange extends RecordedChange {
  cursor: string | null;
}

/**
 * What else must happen, durably, for each committed change (outbound EVENTS deliveries): run in
 * the transaction that deletes the change's outbox row, for the rows it deleted, so a change is
 * handed on exactly when it leaves the outbox. Answers what to do after commit (enqueue), if anything.
 */
export interface OutboxFanOut {
  record(db: Db, changes: readonly PublishedChange[]): Promise<(() => Promise<void>) | undefined>;
}

export interface OutboxRelayDeps {
  db: Db;
  /** Outbound webhooks; none: changes only go to the feed. */
  fanOut?: OutboxFanOut;
  redis: RedisChangePublisher;
  clock: Clock;
  logger: Logger;
  /** An outbox row this old is taken as orphaned by a process that died before publishing it (default 5 s). */
  graceMs?: number;
  /** Rows per sweep (default 500). */
  batchSize?: number;
}

export interface RelayMetrics {
  /** Changes published by the sweep because the process that committed them did not. */
  recovered: number;
}

/**
 * Moves committed changes from the change_outbox table to the Redis change feed.
 *
 * The fast path: the process that committed a change publishes it right after commit (changes
 * that finish in the same turn of the event loop go out in one Redis pipeline), then deletes its
 * outbox rows in batches. The sweep: rows older than `graceMs` belong to a process that died
 * between commit and publish, or lost Redis; any instance publishes them, oldest first, and
 * deletes them. Publishing drops an outbox id already published, so a change sent by both paths
 * (a process killed after publishing, before deleting) still reaches the stream once.
 */
export class OutboxRelay implements ChangePublisher {
  readonly metrics: RelayMetrics = { recovered: 0 };
  private batch: { changes: RecordedChange[]; sent: Promise<void> } | undefined;
  private readonly published: PublishedChange[] = [];
  private deleting: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;
  private readonly graceMs: number;
  private readonly batchSize: number;

  constructor(private readonly deps: OutboxRelayDeps) {
    this.graceMs = deps.graceMs ?? 5_000;
    this.batchSize = deps.batchSize ?? 500;
  }

  publish(changes: readonly RecordedChange[]): Promise<void> {
    if (changes.length === 0) return Promise.resolve();
    if (!this.batch) {
      const batch = { changes: [] as RecordedChange[], sent: Promise.resolve() };
      batch.sent = new Promise<void>((resolve) => {
        setImmediate(() => {
          if (this.batch === batch) this.batch = undefined;
          this.deps.redis
            .publish(batch.changes)
            .then((cursors) => this.forget(batch.changes.map((c) => ({ ...c, cursor: cursors.get(c.outboxId) ?? null }))))
            .catch((err: unknown) =>
              this.deps.logger.warn({ err, changes: batch.changes.length }, 'publishing changes failed; the outbox relay sends them later'),
            )
            .finally(resolve);
        });
      });
      this.batch = batch;
    }
    this.batch.changes.push(...changes);
    return this.batch.sent;
  }

  /** Publishes orphaned outbox rows; returns how many. Several instances may sweep at once (rows are locked, skipped by the others). */
  sweep(): Promise<number> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<number> {
    const before = new Date(this.deps.clock.now() - this.graceMs);
    let total = 0;
    for (;;) {
      const sent: number = await asSystem(this.deps.db, async (db) => {
        const rows = await db
          .select({ id: changeOutbox.id, payload: changeOutbox.payload })
          .from(changeOutbox)
          .where(lte(changeOutbox.createdAt, before))
          .orderBy(asc(changeOutbox.createdAt), asc(changeOutbox.id))
          .limit(this.batchSize)
          .for('update', { skipLocked: true });
        if (rows.length === 0) return { sent: 0, after: undefined };
        const changes = rows.map((r) => ({ outboxId: r.id, application: viewOfJson(r.payload as Record<string, unknown>) }));
        const cursors = await this.deps.redis.publish(changes);
        const after = await this.deleteAndFanOut(
          db,
          changes.map((c) => ({ ...c, cursor: cursors.get(c.outboxId) ?? null })),
        );
        return { sent: rows.length, after };
      }).then(async ({ sent, after }) => {
        await this.runAfterCommit(after);
        return sent;
      });
      total += sent;
      if (sent < this.batchSize) break;
    }
    if (total > 0) {
      this.metrics.recovered += total;
      this.deps.logger.info({ changes: total }, 'outbox relay published changes their process had not');
    }
    return total;
  }

  /** Sweeps every `intervalMs` until stop(). */
  start(intervalMs = 2_000): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.sweep().catch((err: unknown) => this.deps.logger.warn({ err }, 'outbox sweep failed; retrying on the next tick'));
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops sweeping, waits for the publish and sweep in flight, and deletes the rows already published. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping?.catch(() => 0);
    await this.settled();
  }

  /** Resolves when what was published so far is sent and its outbox rows are deleted (tests, shutdown). */
  async settled(): Promise<void> {
    await this.batch?.sent;
    await this.deleting;
    if (this.published.length > 0) await this.flushDeletes();
  }

  /** Published rows are deleted in batches, one statement per batch, after the publish that sent them. */
  private forget(changes: readonly PublishedChange[]): void {
    this.published.push(...changes);
    this.deleting ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flushDeletes());
  }

  private async flushDeletes(): Promise<void> {
    while (this.published.length > 0) {
      const changes = this.published.splice(0, 5_000);
      try {
        const after = await asSystem(this.deps.db, (db) => this.deleteAndFanOut(db, changes));
        await this.runAfterCommit(after);
      } catch (err) {
        // Left for the sweep, which publishes them again (the feed drops the duplicates) and hands them on.
        this.deps.logger.warn({ err, rows: changes.length }, 'deleting published outbox rows failed; the sweep takes them');
      }
    }
    this.deleting = undefined;
  }

  /**
   * Deletes the changes' outbox rows and, in the same transaction, hands on those it deleted (a
   * row another instance's sweep deleted first is that instance's to hand on): each change once.
   */
  private async deleteAndFanOut(db: Db, changes: readonly PublishedChange[]): Promise<(() => Promise<void>) | undefined> {
    const deleted = await db
      .delete(changeOutbox)
      .where(
        inArray(
          changeOutbox.id,
          changes.map((c) => c.outboxId),
        ),
      )
      .returning({ id: changeOutbox.id });
    if (!this.deps.fanOut || deleted.length === 0) return undefined;
    const ids = new Set(deleted.map((d) => d.id));
    return this.deps.fanOut.record(
      db,
      changes.filter((c) => ids.has(c.outboxId)),
    );
  }

  /** What the fan-out does after commit (enqueueing) may fail: what it recorded is durable, and its own sweep repairs it. */
  private async runAfterCommit(after: (() => Promise<void>) | undefined): Promise<void> {
    await after?.().catch((err: unknown) => this.deps.logger.warn({ err }, 'handing on changes after commit failed; the delivery sweep repairs it'));
  }
}
