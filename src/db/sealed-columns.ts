import { is } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import * as tables from './tables.js';

/** A column holding SecretBox values, and how to page through its table. */
export interface SealedColumn {
  table: string;
  column: string;
  primaryKey: string;
  /** The key's SQL type, for casts (bigserial is bigint once stored). */
  primaryKeyType: string;
}

const STORED_TYPE: Record<string, string> = { bigserial: 'bigint', serial: 'integer', smallserial: 'smallint' };

/**
 * Every `*_enc` column of the drizzle tables, found by name rather than listed, so a column added
 * later is rotated with the rest. A table with one needs a one-column primary key to be paged.
 */
export function sealedColumns(source: Record<string, unknown> = tables): SealedColumn[] {
  const found: SealedColumn[] = [];
  for (const value of Object.values(source)) {
    if (!is(value, PgTable)) continue;
    const config = getTableConfig(value);
    const sealed = config.columns.filter((c) => c.name.endsWith('_enc'));
    if (sealed.length === 0) continue;
    const keys = config.columns.filter((c) => c.primary);
    const [key] = keys;
    if (!key || keys.length > 1 || config.primaryKeys.length > 0) {
      throw new Error(`Table ${config.name} has sealed columns but no one-column primary key to page them by.`);
    }
    const type = key.getSQLType();
    for (const c of sealed) found.push({ table: config.name, column: c.name, primaryKey: key.name, primaryKeyType: STORED_TYPE[type] ?? type });
  }
  return found.sort((a, b) => `${a.table}.${a.column}`.localeCompare(`${b.table}.${b.column}`));
}
