import { sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../db/client.js';
import { DayPartitions } from '../db/day-partitions.js';
import { liveEvents, webhookDeliveries, webhookInbox } from '../db/tables.js';
import { asSystem } from '../db/tenant-scope.js';
import { type Clock, utcDay } from '../lib/clock.js';

export interface InboxRetentionOptions {
  /** INBOX_RETENTION_DAYS in ms: processed pushes received longer ago are deleted. */
  inboxRetentionMs: number;
  /** WEBHOOK_DELIVERY_RETENTION_DAYS in ms: finished deliveries created longer ago are deleted. */
  deliveryRetentionMs: number;
  /** LIVE_EVENT_RETENTION_DAYS in ms: room and goods events (the liveRoomUpdated feed) created longer ago are deleted; none when omitted. */
  liveEventRetentionMs?: number;
  /** Rows per statement (each its own short transaction); default 1,000. */
  batchSize?: number;
  /** Statements per step and run; default 50, so one run touches at most 50,000 rows of each kind. */
  maxBatches?: number;
  /** Told after each batch (its own transaction): rows touched and how long it took (metrics, the benchmark). */
  onBatch?: (rows: number, ms: number) => void;
}

export interface RetentionReport {
  /** Daily inbox and delivery-log partitions made ahead (yesterday to three days on). */
  partitionsMade: number;
  /** Whole days of pushes or deliveries dropped at once (their partitions), before any row-by-row delete. */
  partitionsDropped: number;
  /** Envelopes of pushes nothing acts on, dropped once no relay delivery of theirs is pending. */
  envelopesDropped: number;
  inboxDeleted: number;
  deliveriesDeleted: number;
  liveEventsDeleted: number;
  /** False when a step stopped at maxBatches with more to do: the next run goes on. */
  complete: boolean;
}

/**
 * Retention of the webhook inbox, the delivery log and the live change feed (issue 18). The inbox
 * and the delivery log are partitioned by day: a day past the retention that holds nothing still
 * needed is dropped whole (DayPartitions), whatever it holds. What is left (a day with a push still needed, the
 * default partition) and the other tables go through the row steps. Each step is a loop of bounded,
 * index-driven statements (`... where id in (select ... order by <indexed column> limit N for
 * update skip locked)`), so a run costs what it removes, not what the tables hold, holds no lock
 * for long, and runs concurrently on every worker without a lock of its own (skip locked).
 *
 * What is never removed: a push not processed yet (or given up: it stays for support with its
 * last error), and a push one of whose relay deliveries is still PENDING. De-duplication needs a
 * row only within WeChat's redelivery window, which the replay window bounds (a push with an older
 * timestamp is refused before the inbox is asked); the configuration keeps retention longer.
 * Applications and their history are not touched: they are the audit trail.
 */
export class InboxRetention {
  private readonly batchSize: number;
  private readonly maxBatches: number;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly options: InboxRetentionOptions,
  ) {
    this.batchSize = options.batchSize ?? 1_000;
    this.maxBatches = options.maxBatches ?? 50;
    this.inboxDays = new DayPartitions(db, 'webhook_inbox');
    this.deliveryDays = new DayPartitions(db, 'webhook_deliveries');
  }

  private readonly inboxDays: DayPartitions;
  private readonly deliveryDays: DayPartitions;
  private signal: AbortSignal | undefined;

  /** `signal`: stop after the statement running when it aborts (shutdown); the report says it is not complete. */
  async runOnce(signal?: AbortSignal): Promise<RetentionReport> {
    this.signal = signal;
    const now = this.clock.now();
    const inboxCutoff = new Date(now - this.options.inboxRetentionMs).toISOString();
    const deliveryCutoff = new Date(now - this.options.deliveryRetentionMs).toISOString();
    const limit = this.batchSize;
    const partitionsMade = (await this.inboxDays.ensure(now)) + (await this.deliveryDays.ensure(now));
    // The delivery log's days first: a relayed push's finished deliveries then seldom hold up its day.
    const partitionsDropped =
      (await this.deliveryDays.dropExpired(new Date(deliveryCutoff))).length + (await this.inboxDays.dropExpired(new Date(inboxCutoff))).length;
    // Rows of a day still partitioned wait for their whole day to be dropped; row by row go only
    // those of an expired day kept for a row still needed, and those of the default partitions.
    // The partition key in each condition prunes the scan to those: the days not yet expired
    // (whose rows before the cutoff would otherwise be walked and skipped on every run) are not read.
    const cutoffDay = utcDay(now - this.options.inboxRetentionMs);
    const deliveryCutoffDay = utcDay(now - this.options.deliveryRetentionMs);
    const noPendingRelay = (alias: string) =>
      sql`not exists (select 1 from ${webhookDeliveries} d where d.inbox_id = ${sql.raw(alias)}.id and d.inbox_pushed_on = ${sql.raw(alias)}.pushed_on and d.status = 'PENDING')`;
    const envelopes = await this.repeat(
      () => sql`
      update ${webhookInbox} set raw_body = null, raw_query = null, content_type = null
      where (id, pushed_on) in (
        select c.id, c.pushed_on from ${webhookInbox} c
        where c.payload is null and c.raw_body is not null and c.processed_at is not null and ${noPendingRelay('c')}
        order by c.id limit ${limit} for update skip locked)
      returning 1`,
    );
    // Keyset over received_at: each batch starts where the last one ended, so it never walks again
    // over the index entries of rows this run already deleted (dead until vacuum).
    let from = '-infinity';
    const inbox = await this.repeat(
      // Its relay deliveries go with it (on delete cascade): finished, or the row would not be chosen.
      () => sql`
      delete from ${webhookInbox}
      where pushed_on < ${cutoffDay}::date and (id, pushed_on) in (
        select i.id, i.pushed_on from ${webhookInbox} i
        where i.received_at >= ${from}::timestamptz and i.received_at < ${inboxCutoff}::timestamptz
          and i.pushed_on < ${cutoffDay}::date
          and i.processed_at is not null and ${noPendingRelay('i')}
        order by i.received_at limit ${limit} for update skip locked)
      returning received_at`,
      (last) => {
        from = last;
      },
    );
    const deliveries = await this.repeat(
      () => sql`
      delete from ${webhookDeliveries}
      where created_on < ${deliveryCutoffDay}::date and (id, created_on) in (
        select w.id, w.created_on from ${webhookDeliveries} w
        where w.created_at < ${deliveryCutoff}::timestamptz and w.status <> 'PENDING'
          and w.created_on < ${deliveryCutoffDay}::date
        order by w.created_at limit ${limit} for update skip locked)
      returning 1`,
    );
    // The live change feed: oldest first by its own index; their webhook deliveries hold copies, not references.
    const liveEventRetentionMs = this.options.liveEventRetentionMs;
    const events =
      liveEventRetentionMs === undefined
        ? { rows: 0, complete: true }
        : await this.repeat(
            () => sql`
      delete from ${liveEvents}
      where id in (
        select e.id from ${liveEvents} e
        where e.created_at < ${new Date(now - liveEventRetentionMs).toISOString()}::timestamptz
        order by e.created_at limit ${limit} for update skip locked)
      returning 1`,
          );
    return {
      partitionsMade,
      partitionsDropped,
      envelopesDropped: envelopes.rows,
      inboxDeleted: inbox.rows,
      deliveriesDeleted: deliveries.rows,
      liveEventsDeleted: events.rows,
      complete: envelopes.complete && inbox.complete && deliveries.complete && events.complete,
    };
  }

  /**
   * Runs one bounded statement until it touches fewer rows than a batch, or maxBatches times;
   * `onLast` gets the first column of the batch's last row returned (greatest, for a keyset).
   */
  private async repeat(statement: () => ReturnType<typeof sql>, onLast?: (value: string) => void): Promise<{ rows: number; complete: boolean }> {
    let rows = 0;
    for (let batch = 0; batch < this.maxBatches; batch++) {
      if (this.signal?.aborted) return { rows, complete: false };
      // Cross-tenant by nature: the system scope, one short transaction per batch.
      const started = performance.now();
      const returned = await asSystem(this.db, async (db) => {
        // A batch lost in a crash is simply deleted again next run: no need to wait for its WAL flush.
        await db.execute(sql`set local synchronous_commit = off`);
        return rowsOf<Record<string, unknown>>(await db.execute(statement()));
      });
      this.options.onBatch?.(returned.length, performance.now() - started);
      rows += returned.length;
      if (onLast && returned.length > 0) onLast(greatest(returned));
      if (returned.length < this.batchSize) return { rows, complete: true };
    }
    return { rows, complete: false };
  }
}

/** The greatest first value of the rows (timestamps as Postgres prints them, or dates). */
function greatest(rows: Record<string, unknown>[]): string {
  let best = Number.NEGATIVE_INFINITY;
  for (const row of rows) {
    const value = Object.values(row)[0];
    const ms = value instanceof Date ? value.getTime() : new Date(String(value)).getTime();
    if (ms > best) best = ms;
  }
  return new Date(best).toISOString();
}
