import { sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from './client.js';

/**
 * Row-level security scopes (migration 0002). The policies let a row through when its tenant is
 * the transaction's `wxlive.tenant_id`, or when `wxlive.rls_bypass` is on; both are set with
 * `set_config(..., true)`, so they last only until the transaction ends and never leak to the
 * next user of a pooled connection. Outside either scope a role subject to RLS sees no rows.
 */

/** Runs `fn` in a transaction that can see and write only `tenantId`'s rows. */
export function inTenant<T>(db: DbOrTx, tenantId: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select set_config('wxlive.tenant_id', ${tenantId}, true)`);
    return fn(tx as Tx);
  });
}

/** Runs `fn` in a transaction that sees every tenant: only for the cross-tenant paths (key lookup, scans, gauges). */
export function asSystem<T>(db: DbOrTx, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select set_config('wxlive.rls_bypass', 'on', true)`);
    return fn(tx as Tx);
  });
}
