import { and, asc, eq, gt, isNotNull, isNull, lt, sql } from 'drizzle-orm';
import { arrayParam, type Db, rowsOf } from '../db/client.js';
import { webhookDeliveries, webhookEndpoints, webhookInbox } from '../db/tables.js';
import { asSystem, GENERIC_PLANS, inTenantStatement } from '../db/tenant-scope.js';
import { utcDay } from '../lib/clock.js';
import type { DueDelivery } from '../services/webhooks/event-fan-out.js';

export type InboxKind = 'auth' | 'event';

export interface NewInboxRow {
  tenantId: string;
  /** The UTC day of the push's CreateTime (`pushedOn` in xml/events.ts): its partition. */
  pushedOn: string;
  /** Which URL it arrived on: the authorization event URL or the message and event URL. */
  kind: InboxKind;
  /** The merchant (authorizer) app id the push is about; null when none (component_verify_ticket). */
  appId: string | null;
  eventType: string;
  /** Tenant-scoped by the unique (tenant_id, dedup_key, pushed_on) index. */
  dedupKey: string;
  /** The decrypted XML, as received; null for a push of a type the gateway does not act on. */
  payload: string | null;
  /** The request as WeChat sent it: query string (without `?`), body bytes, content type. */
  rawQuery: string | null;
  rawBody: Buffer | null;
  contentType: string | null;
  receivedAt: Date;
}

export type InboxRow = typeof webhookInbox.$inferSelect;

export interface DueOptions {
  now: Date;
  maxAttempts: number;
  /** Attempt n+1 is due `backoffMs * (2^n - 1)` after the push was received. */
  backoffMs: number;
  limit: number;
}

const MAX_ERROR_CHARS = 500;
/** Rows one mark statement updates at most. */
const MAX_MARKS_PER_STATEMENT = 500;

interface PendingMark {
  id: number;
  /** The row's partition key: the mark's lookup touches only that day's partition. */
  pushedOn: string;
  at: string;
  note: string | null;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface TenantMarks {
  writing: boolean;
  next: PendingMark[];
}

/**
 * The webhook inbox: every verified push, stored before WeChat gets its answer. `attempts`
 * counts processing attempts started; a claim is a compare-and-set on it, so the request that
 * stored a push, and sweepers on any instance, never run the same attempt twice. Each call runs in
 * the push's tenant scope; only the sweeper's scan for due rows crosses tenants.
 */
export class InboxStore {
  constructor(private readonly db: Db) {}

  /**
   * Inserts unless (tenant, dedup key) is already there. `claimed`: the caller processes it now
   * (attempt 1 starts with the insert); `processed`: nothing to do (an unknown push).
   * In the same transaction, a new push becomes one PENDING delivery per enabled RELAY endpoint
   * of the tenant whose filter names its type (one indexed lookup), so a stored push is never
   * lost to the relay; `relay` lists them for the queue. Returns undefined for a duplicate.
   * Throws when Postgres is unavailable.
   */
  async insert(row: NewInboxRow, state: 'claimed' | 'processed' | 'unclaimed'): Promise<{ id: number; relay: DueDelivery[] } | undefined> {
    const at = row.receivedAt.toISOString();
    const attempts = state === 'claimed' ? 1 : 0;
    const processedAt = state === 'processed' ? at : null;
    // One statement: the insert that stores (and de-duplicates), and the relay's deliveries of
    // the new row; a duplicate inserts nothing and returns no row. Its scope's COMMIT goes with
    // it: one round trip before WeChat's answer.
    const made = await inTenantStatement(
      this.db,
      row.tenantId,
      (db) =>
        db.execute(sql`
        with ins as (
          insert into ${webhookInbox} (tenant_id, pushed_on, kind, app_id, event_type, dedup_key, payload, raw_query, raw_body, content_type, received_at, attempts, processed_at)
          values (${row.tenantId}::uuid, ${row.pushedOn}::date, ${row.kind}, ${row.appId}, ${row.eventType}, ${row.dedupKey}, ${row.payload}, ${row.rawQuery}, ${row.rawBody}::bytea,
            ${row.contentType}, ${at}::timestamptz, ${attempts}::int, ${processedAt}::timestamptz)
          on conflict (tenant_id, dedup_key, pushed_on) do nothing
          returning id, pushed_on
        ), d as (
          insert into ${webhookDeliveries} (tenant_id, endpoint_id, event_type, source, inbox_id, inbox_pushed_on, created_at, created_on, next_attempt_at)
          select e.tenant_id, e.id, ${row.eventType}, 'inbox:' || ins.id, ins.id, ins.pushed_on, ${at}::timestamptz, ${utcDay(row.receivedAt.getTime())}::date, ${at}::timestamptz
          from ins, ${webhookEndpoints} e
          where e.tenant_id = ${row.tenantId}::uuid and e.kind = 'RELAY' and e.enabled
            and (e.events is null or ${row.eventType} = any(e.events) or '*' = any(e.events))
          on conflict (endpoint_id, source, created_on) do nothing
          returning id, endpoint_id
        )
        select ins.id::text as id, d.id::text as delivery_id, d.endpoint_id::text as endpoint_id from ins left join d on true`),
      // Planned once per connection, not on every push (a custom plan cost about 0.25 ms of Postgres each time).
      GENERIC_PLANS,
    );
    const rows = rowsOf<{ id: string; delivery_id: string | null; endpoint_id: string | null }>(made);
    const first = rows[0];
    if (first === undefined) return undefined;
    const relay: DueDelivery[] = [];
    for (const d of rows) {
      if (d.delivery_id === null || d.endpoint_id === null) continue;
      relay.push({ tenantId: row.tenantId, deliveryId: d.delivery_id, endpointId: d.endpoint_id, dueAt: row.receivedAt.getTime() });
    }
    return { id: Number(first.id), relay };
  }

  async get(tenantId: string, id: number): Promise<InboxRow | undefined> {
    const [row] = await inTenantStatement(this.db, tenantId, (db) =>
      db
        .select()
        .from(webhookInbox)
        .where(and(eq(webhookInbox.tenantId, tenantId), eq(webhookInbox.id, id))),
    );
    return row;
  }

  /**
   * Starts the next attempt if nobody else has started it since `attempts` was read. Found by its
   * primary key (id, pushed_on: its day's partition only), with a generic plan, as markProcessed;
   * row-level security keeps it to the tenant's rows.
   */
  async claim(row: Pick<InboxRow, 'tenantId' | 'id' | 'pushedOn' | 'attempts'>): Promise<InboxRow | undefined> {
    const [claimed] = await inTenantStatement(
      this.db,
      row.tenantId,
      (db) =>
        db
          .update(webhookInbox)
          .set({ attempts: sql`${webhookInbox.attempts} + 1` })
          .where(
            and(
              eq(webhookInbox.id, row.id),
              eq(webhookInbox.pushedOn, row.pushedOn),
              eq(webhookInbox.attempts, row.attempts),
              isNull(webhookInbox.processedAt),
            ),
          )
          .returning(),
      GENERIC_PLANS,
    );
    return claimed;
  }

  /**
   * Done; `note` records why a push was deliberately ignored (shown to support), else cleared.
   * Marks are batched per tenant: one made while another of the tenant is being written waits
   * for it and goes with the others that waited, in one UPDATE; each call resolves once its row's
   * mark is committed (and rejects when that statement failed). At one push at a time it is one
   * statement per push, as before; under load one statement per batch.
   */
  markProcessed(row: Pick<InboxRow, 'tenantId' | 'id' | 'pushedOn'>, at: Date, note: string | null = null): Promise<void> {
    let batches = this.marks.get(row.tenantId);
    if (!batches) {
      batches = { writing: false, next: [] };
      this.marks.set(row.tenantId, batches);
    }
    const pending = batches;
    const done = new Promise<void>((resolve, reject) => {
      pending.next.push({ id: row.id, pushedOn: row.pushedOn, at: at.toISOString(), note: note === null ? null : truncate(note), resolve, reject });
    });
    if (!pending.writing) void this.writeMarks(row.tenantId, pending);
    return done;
  }

  private readonly marks = new Map<string, TenantMarks>();

  private async writeMarks(tenantId: string, batches: TenantMarks): Promise<void> {
    batches.writing = true;
    while (batches.next.length > 0) {
      const batch = batches.next.splice(0, MAX_MARKS_PER_STATEMENT);
      const values = JSON.stringify(batch.map(({ id, pushedOn, at, note }) => ({ id, p: pushedOn, at, note })));
      const ids = arrayParam(batch.map((m) => m.id));
      const days = arrayParam([...new Set(batch.map((m) => m.pushedOn))]);
      try {
        // One statement, its COMMIT sent with it. The rows are found by their primary key
        // (id = any, pushed_on = any: the days' partitions only, an index probe per id), whatever
        // the statistics say. A `tenant_id =` condition here let the planner, with a day's
        // partition's statistics behind its growth, hash-join against every row of the tenant
        // (4-6 ms a mark in the webhook bench, growing with the day); the scope's row-level
        // security keeps the update to the tenant's rows.
        await inTenantStatement(
          this.db,
          tenantId,
          (db) =>
            db.execute(sql`
            update ${webhookInbox} i set processed_at = v.at, last_error = v.note
            from jsonb_to_recordset(${values}::jsonb) as v(id bigint, p date, at timestamptz, note text)
            where i.id = any(${ids}::bigint[]) and i.pushed_on = any(${days}::date[]) and i.id = v.id and i.pushed_on = v.p`),
          GENERIC_PLANS,
        );
        for (const mark of batch) mark.resolve();
      } catch (err) {
        for (const mark of batch) mark.reject(err);
      }
    }
    batches.writing = false;
    this.marks.delete(tenantId);
  }

  /** By primary key, as claim. */
  async markFailed(row: Pick<InboxRow, 'tenantId' | 'id' | 'pushedOn'>, error: string): Promise<void> {
    await inTenantStatement(
      this.db,
      row.tenantId,
      (db) =>
        db
          .update(webhookInbox)
          .set({ lastError: truncate(error) })
          .where(and(eq(webhookInbox.id, row.id), eq(webhookInbox.pushedOn, row.pushedOn))),
      GENERIC_PLANS,
    );
  }

  /** Unprocessed rows of every tenant whose next attempt is due, oldest first (the partial index on received_at). */
  due(options: DueOptions): Promise<InboxRow[]> {
    const nextAttemptAt = sql`${webhookInbox.receivedAt} + (${options.backoffMs}::double precision * (power(2, least(${webhookInbox.attempts}, 20)) - 1)) * interval '1 millisecond'`;
    return asSystem(this.db, (db) =>
      db
        .select()
        .from(webhookInbox)
        .where(
          and(
            isNull(webhookInbox.processedAt),
            lt(webhookInbox.attempts, options.maxAttempts),
            sql`${nextAttemptAt} <= ${options.now.toISOString()}::timestamptz`,
          ),
        )
        .orderBy(asc(webhookInbox.receivedAt))
        .limit(options.limit),
    );
  }

  /** Whether a later component_verify_ticket of the tenant was already saved (a retried older one must not overwrite it). */
  async newerTicketProcessed(row: Pick<InboxRow, 'id' | 'tenantId' | 'receivedAt'>): Promise<boolean> {
    const [newer] = await inTenantStatement(this.db, row.tenantId, (db) =>
      db
        .select({ id: webhookInbox.id })
        .from(webhookInbox)
        .where(
          and(
            eq(webhookInbox.tenantId, row.tenantId),
            eq(webhookInbox.eventType, 'component_verify_ticket'),
            isNotNull(webhookInbox.processedAt),
            gt(webhookInbox.receivedAt, row.receivedAt),
          ),
        )
        .limit(1),
    );
    return newer !== undefined;
  }
}

function truncate(text: string): string {
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS - 1)}…` : text;
}
