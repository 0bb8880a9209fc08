import { sql } from 'drizzle-orm';
import { utcDay } from '../lib/clock.js';
import { type Db, rowsOf } from './client.js';
import { asSystem } from './tenant-scope.js';

const DAY_MS = 86_400_000;

/** The tables partitioned by UTC day: the webhook inbox (by `pushed_on`) and the delivery log (by `created_on`). */
export type DayPartitionedTable = 'webhook_inbox' | 'webhook_deliveries';

/**
 * The daily partitions of a table (migration 0012): one per UTC day, named
 * `<table>_pYYYYMMDD`, and `<table>_default` for days that have none. The DDL is in SECURITY
 * DEFINER functions of the migrations, so the application role needs no DDL rights; this is the
 * one place that calls them.
 */
export class DayPartitions {
  constructor(
    private readonly db: Db,
    readonly table: DayPartitionedTable,
    /** Days ahead of today kept made (rows stamped a little in the future land in their own day). */
    private readonly aheadDays = 3,
  ) {}

  /** Makes the partitions from yesterday to `aheadDays` after the day of `nowMs` that are missing; returns how many. */
  async ensure(nowMs: number): Promise<number> {
    return this.ensureDays(nowMs - DAY_MS, nowMs + this.aheadDays * DAY_MS);
  }

  /**
   * Makes the missing partitions of every day from the day of `fromMs` to the day of `toMs` (the
   * benchmark's past days), skipping a day the default partition already holds rows of.
   */
  async ensureDays(fromMs: number, toMs: number): Promise<number> {
    const rows = await asSystem(this.db, async (db) =>
      rowsOf<{ made: number }>(
        await db.execute(sql`select wxlive_ensure_day_partitions(${this.table}, ${utcDay(fromMs)}::date, ${utcDay(toMs)}::date) as made`),
      ),
    );
    return Number(rows[0]?.made ?? 0);
  }

  /**
   * Drops each partition whose day ended before the day of `cutoff` and that holds nothing still
   * needed (what each table still needs: wxlive_drop_expired_day_partitions in migration 0012);
   * returns the names of those dropped.
   */
  async dropExpired(cutoff: Date): Promise<string[]> {
    const rows = await asSystem(this.db, async (db) =>
      rowsOf<{ name: string }>(await db.execute(sql`select wxlive_drop_expired_day_partitions(${this.table}, ${cutoff.toISOString()}::timestamptz) as name`)),
    );
    return rows.map((r) => r.name);
  }

  /** The partitions there are, oldest first (tests, operations). */
  async list(): Promise<string[]> {
    const rows = await asSystem(this.db, async (db) =>
      rowsOf<{ name: string }>(
        await db.execute(sql`
          select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
          where i.inhparent = ${this.table}::regclass order by c.relname`),
      ),
    );
    return rows.map((r) => r.name);
  }
}
