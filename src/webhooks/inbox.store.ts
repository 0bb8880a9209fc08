import { and, asc, eq, gt, isNotNull, isNull, lt, sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../db/client.js';
import { webhookDeliveries, webhookEndpoints, webhookInbox } from '../db/tables.js';
import { asSystem, inTenant } from '../db/tenant-scope.js';
import type { DueDelivery } from '../services/webhooks/event-fan-out.js';

export type InboxKind = 'auth' | 'event';

export interface NewInboxRow {
  tenantId: string;
  /** Which URL it arrived on: the authorization event URL or the message and event URL. */
  kind: InboxKind;
  /** The merchant (authorizer) app id the push is about; null when none (component_verify_ticket). */
  appId: string | null;
  eventType: string;
  /** Tenant-scoped by the unique (tenant_id, dedup_key) index. */
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
    return inTenant(this.db, row.tenantId, async (db) => {
      const [inserted] = await db
        .insert(webhookInbox)
        .values({
          ...row,
          attempts: state === 'claimed' ? 1 : 0,
          processedAt: state === 'processed' ? row.receivedAt : null,
        })
        .onConflictDoNothing({ target: [webhookInbox.tenantId, webhookInbox.dedupKey] })
        .returning({ id: webhookInbox.id });
      if (!inserted) return undefined;
      const at = row.receivedAt.toISOString();
      const made = await db.execute(sql`
        insert into ${webhookDeliveries} (tenant_id, endpoint_id, event_type, source, inbox_id, created_at, next_attempt_at)
        select e.tenant_id, e.id, ${row.eventType}, ${`inbox:${inserted.id}`}, ${inserted.id}, ${at}::timestamptz, ${at}::timestamptz
        from ${webhookEndpoints} e
        where e.tenant_id = ${row.tenantId}::uuid and e.kind = 'RELAY' and e.enabled
          and (e.events is null or ${row.eventType} = any(e.events) or '*' = any(e.events))
        on conflict (endpoint_id, source) do nothing
        returning id, endpoint_id`);
      const relay = rowsOf<{ id: string; endpoint_id: string }>(made).map((d) => ({
        tenantId: row.tenantId,
        deliveryId: d.id,
        endpointId: d.endpoint_id,
        dueAt: row.receivedAt.getTime(),
      }));
      return { id: inserted.id, relay };
    });
  }

  async get(tenantId: string, id: number): Promise<InboxRow | undefined> {
    const [row] = await inTenant(this.db, tenantId, (db) =>
      db
        .select()
        .from(webhookInbox)
        .where(and(eq(webhookInbox.tenantId, tenantId), eq(webhookInbox.id, id))),
    );
    return row;
  }

  /** Starts the next attempt if nobody else has started it since `attempts` was read. */
  async claim(row: Pick<InboxRow, 'tenantId' | 'id' | 'attempts'>): Promise<InboxRow | undefined> {
    const [claimed] = await inTenant(this.db, row.tenantId, (db) =>
      db
        .update(webhookInbox)
        .set({ attempts: sql`${webhookInbox.attempts} + 1` })
        .where(
          and(eq(webhookInbox.tenantId, row.tenantId), eq(webhookInbox.id, row.id), eq(webhookInbox.attempts, row.attempts), isNull(webhookInbox.processedAt)),
        )
        .returning(),
    );
    return claimed;
  }

  /** Done; `note` records why a push was deliberately ignored (shown to support), else cleared. */
  async markProcessed(row: Pick<InboxRow, 'tenantId' | 'id'>, at: Date, note: string | null = null): Promise<void> {
    await inTenant(this.db, row.tenantId, (db) =>
      db
        .update(webhookInbox)
        .set({ processedAt: at, lastError: note === null ? null : truncate(note) })
        .where(and(eq(webhookInbox.tenantId, row.tenantId), eq(webhookInbox.id, row.id))),
    );
  }

  async markFailed(row: Pick<InboxRow, 'tenantId' | 'id'>, error: string): Promise<void> {
    await inTenant(this.db, row.tenantId, (db) =>
      db
        .update(webhookInbox)
        .set({ lastError: truncate(error) })
        .where(and(eq(webhookInbox.tenantId, row.tenantId), eq(webhookInbox.id, row.id))),
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
    const [newer] = await inTenant(this.db, row.tenantId, (db) =>
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
