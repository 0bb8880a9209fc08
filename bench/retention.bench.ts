/**
 * Figure 8 (issue 18): what one retention run costs on a large inbox. BENCH_RETENTION_ROWS rows
 * (default 1,000,000 in `npm run bench`, to fit its time limit; the closing note of issue 18
 * reports 10,000,000) received evenly over the 8 whole days before today, all processed, so the
 * oldest day is past INBOX_RETENTION_DAYS=7. The gateway's run (InboxRetention: the expired day's
 * partition dropped whole, then the row steps, which find nothing) against its baseline: one
 * plain `DELETE` of the same rows on an unpartitioned copy with the same rows and indexes (what a
 * user would write). Also the longest single statement of the run, and a run when nothing has
 * expired (what the periodic job costs on a big table in steady state).
 * Run alone: `npx tsx bench/retention.bench.ts`.
 */

import { pathToFileURL } from 'node:url';
import { sql } from 'drizzle-orm';
import { DayPartitions } from '../src/db/day-partitions.js';
import { webhookInbox } from '../src/db/tables.js';
import { asSystem } from '../src/db/tenant-scope.js';
import { type Clock, utcDay } from '../src/lib/clock.js';
import { InboxRetention } from '../src/webhooks/inbox-retention.js';
import { createBenchDatabase, createBenchTenant } from './support/bench-db.js';

export interface RetentionFigures {
  rows: number;
  expired: number;
  /** The gateway's run that removed every expired row, ms. */
  retentionMs: number;
  /** Of which dropping the expired day's partition, ms. */
  dropMs: number;
  /** Its longest statement (one transaction), ms. */
  longestBatchMs: number;
  /** The median and 99th percentile of its statements, ms. */
  batchP50Ms: number;
  batchP99Ms: number;
  /** Statements it ran (each step's last one finds less than a batch). */
  batches: number;
  /** The same run again, nothing left to remove, ms: right after (the index still points at the rows just deleted) and once more. */
  idleRunMs: number;
  idleAgainMs: number;
  /** A plain DELETE ... WHERE received_at < cutoff on the unpartitioned copy, ms. */
  plainDeleteMs: number;
  /** How long generating both tables took, s (not a figure; for the log). */
  setupSeconds: number;
}

const DAY = 86_400_000;
const BATCH = 1_000;

export async function runRetentionBench(options: { log: (line: string) => void; rows?: number }): Promise<RetentionFigures> {
  const rows = options.rows ?? Number(process.env.BENCH_RETENTION_ROWS ?? 1_000_000);
  const bench = await createBenchDatabase(2);
  try {
    const tenant = await createBenchTenant(bench, 1);
    const db = bench.database.db;
    const now = Date.now();
    const today = Date.parse(`${utcDay(now)}T00:00:00Z`);
    const t0 = performance.now();
    await new DayPartitions(db, 'webhook_inbox').ensureDays(today - 8 * DAY, today);
    // One statement per table (generate_series), as the brief of issue 18 asks; 8 whole days of pushes.
    const fill = (table: string) =>
      db.execute(
        sql.raw(`insert into ${table} (tenant_id, pushed_on, kind, app_id, event_type, dedup_key, payload, received_at, processed_at, attempts)
        select '${tenant.id}'::uuid, (t at time zone 'UTC')::date, 'event', 'wx0123456789abcdef', 'wxa_live_apply_event', 'k' || g, repeat('x', 300),
               t, t + interval '1 second', 1
        from generate_series(1, ${rows}) g, lateral (select to_timestamp(${today / 1000}) - (g::double precision / ${rows + 1}) * interval '8 days' as t) r`),
      );
    await db.execute(sql`create table inbox_copy (like ${webhookInbox} including defaults including indexes)`);
    await asSystem(db, () => fill('webhook_inbox'));
    options.log(`retention: ${rows.toLocaleString('en-US')} inbox rows generated`);
    await fill('inbox_copy');
    await db.execute(sql`vacuum analyze webhook_inbox`);
    await db.execute(sql`vacuum analyze inbox_copy`);
    const setupSeconds = (performance.now() - t0) / 1000;
    options.log(`retention: both tables ready in ${setupSeconds.toFixed(0)} s`);
    // Expired: the pushes of the days that ended before the cutoff's day began (days go whole).
    const cutoffDay = utcDay(now - 7 * DAY);
    const [counted] = await db.select({ n: sql<number>`count(*)::int` }).from(webhookInbox).where(sql`${webhookInbox.pushedOn} < ${cutoffDay}::date`);
    const expired = counted?.n ?? 0;

    // The gateway's run, as the job makes it, with room for every expired row in one run.
    const clock: Clock = { now: () => now };
    let longestBatchMs = 0;
    let batches = 0;
    const durations: number[] = [];
    const retention = new InboxRetention(db, clock, {
      inboxRetentionMs: 7 * DAY,
      deliveryRetentionMs: 7 * DAY,
      batchSize: BATCH,
      maxBatches: Math.ceil(expired / BATCH) + 1,
      onBatch: (_rows, ms) => {
        longestBatchMs = Math.max(longestBatchMs, ms);
        batches++;
        durations.push(ms);
      },
    });
    // The run in its two parts, as the job makes them: the expired day's partition dropped (what
    // runOnce does first), then runOnce (the partitions ahead, the row steps, nothing more to drop).
    const r0 = performance.now();
    const dropped = await new DayPartitions(db, 'webhook_inbox').dropExpired(new Date(now - 7 * DAY));
    const dropMs = performance.now() - r0;
    const report = await retention.runOnce();
    const retentionMs = performance.now() - r0;
    const [left] = await db.select({ n: sql<number>`count(*)::int` }).from(webhookInbox);
    if (!report.complete || dropped.length !== 1 || left?.n !== rows - expired)
      throw new Error(`retention left ${left?.n} of ${rows} rows (${expired} expired), dropping ${dropped.join(', ')}`);
    options.log(
      `retention: gateway run removed ${expired.toLocaleString('en-US')} rows in ${(retentionMs / 1000).toFixed(3)} s (1 partition dropped in ${dropMs.toFixed(0)} ms, ${batches} row statements)`,
    );
    // The figures of the run itself; the idle runs below report to the same hook.
    const runDurations = [...durations];
    const runLongestMs = longestBatchMs;
    const i0 = performance.now();
    await retention.runOnce();
    const idleRunMs = performance.now() - i0;
    const j0 = performance.now();
    await retention.runOnce();
    const idleAgainMs = performance.now() - j0;
    runDurations.sort((a, b) => a - b);
    const pick = (q: number) => runDurations[Math.min(runDurations.length - 1, Math.floor(q * runDurations.length))] ?? 0;

    const d0 = performance.now();
    // The same rows, chosen the way a user would: by the received_at index.
    await db.execute(sql`delete from inbox_copy where received_at < ${`${cutoffDay}T00:00:00Z`}::timestamptz`);
    const plainDeleteMs = performance.now() - d0;
    const [copyLeft] = await db.select({ n: sql<number>`count(*)::int` }).from(sql`inbox_copy`);
    if (copyLeft?.n !== rows - expired) throw new Error(`the plain DELETE left ${copyLeft?.n} of ${rows} rows (${expired} expired)`);
    options.log(`retention: plain DELETE ${(plainDeleteMs / 1000).toFixed(1)} s`);
    return {
      rows,
      expired,
      retentionMs,
      dropMs,
      longestBatchMs: runLongestMs,
      batchP50Ms: pick(0.5),
      batchP99Ms: pick(0.99),
      batches: runDurations.length,
      idleRunMs,
      idleAgainMs,
      plainDeleteMs,
      setupSeconds,
    };
  } finally {
    await bench.drop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
  runRetentionBench({ log }).then(
    (f) => {
      process.stdout.write(`${JSON.stringify(f, null, 2)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
