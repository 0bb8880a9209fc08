import { sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../db/client.js';
import { type SealedColumn, sealedColumns } from '../db/sealed-columns.js';
import { asSystem } from '../db/tenant-scope.js';
import { type SecretBox, SecretBoxError } from '../lib/secret-box.js';

/** What one pass did to one `*_enc` column. */
export interface ColumnRotation {
  /** `table.column` */
  column: string;
  /** Rows with a value, when the pass began. */
  rows: number;
  reencrypted: number;
  /** Already sealed under the sealing key: left alone. */
  current: number;
  /** Written by someone else (the gateway) between this pass's read and its write: left as they wrote it. */
  changedMeanwhile: number;
  /** Could not be opened with any key of the ring: left as they are, listed in `unreadable`. */
  unreadable: number;
}

export interface UnreadableSecret {
  column: string;
  /** The row's primary key. */
  id: string;
  /** The key the value names; undefined when it is not a sealed value at all. */
  keyId: string | undefined;
  message: string;
}

export interface RotationSummary {
  keyId: string;
  columns: ColumnRotation[];
  /** The first MAX_LISTED unreadable rows (every one is counted in `columns`). */
  unreadable: UnreadableSecret[];
}

export interface RotationListener {
  start?(column: string, rows: number): void;
  batch?(column: string, done: number): void;
  finish?(column: string): void;
}

const MAX_LISTED = 100;
const SQL_TYPE = /^[a-z][a-z ]*$/;

/**
 * Re-encrypts every stored secret under the box's sealing key. Each batch is one short system-scope
 * transaction over a keyset page (by primary key), so the gateway keeps serving beside it and an
 * interrupted pass loses nothing: every key of the ring still opens what is not done, and a new
 * pass skips what is. Writes compare-and-set on the value read, so a secret the gateway wrote
 * meanwhile is never overwritten with the stale one re-encrypted.
 */
export class SecretRotationService {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly columns: readonly SealedColumn[] = sealedColumns(),
  ) {}

  async rotate(options: { batchSize?: number; listener?: RotationListener } = {}): Promise<RotationSummary> {
    const batchSize = options.batchSize ?? 500;
    const listener = options.listener ?? {};
    const summary: RotationSummary = { keyId: this.box.currentKeyId, columns: [], unreadable: [] };
    for (const column of this.columns) {
      summary.columns.push(await this.rotateColumn(column, batchSize, listener, summary.unreadable));
    }
    return summary;
  }

  private async rotateColumn(c: SealedColumn, batchSize: number, listener: RotationListener, unreadable: UnreadableSecret[]): Promise<ColumnRotation> {
    if (!SQL_TYPE.test(c.primaryKeyType)) throw new Error(`${c.table}.${c.primaryKey}: unexpected key type ${c.primaryKeyType}`);
    const name = `${c.table}.${c.column}`;
    const table = sql.identifier(c.table);
    const col = sql.identifier(c.column);
    const pk = sql.identifier(c.primaryKey);
    const pkType = sql.raw(c.primaryKeyType);
    const [counted] = rowsOf<{ n: number }>(await asSystem(this.db, (db) => db.execute(sql`select count(*)::int as n from ${table} where ${col} is not null`)));
    const result: ColumnRotation = { column: name, rows: counted?.n ?? 0, reencrypted: 0, current: 0, changedMeanwhile: 0, unreadable: 0 };
    listener.start?.(name, result.rows);
    let cursor: string | undefined;
    let done = 0;
    for (;;) {
      const after = cursor === undefined ? sql`` : sql`and ${pk} > cast(${cursor} as ${pkType})`;
      const scanned = await asSystem(this.db, async (db) => {
        const rows = rowsOf<{ id: string; v: string }>(
          await db.execute(sql`select ${pk}::text as id, ${col} as v from ${table} where ${col} is not null ${after} order by ${pk} limit ${batchSize}`),
        );
        const changes: { id: string; old: string; v: string }[] = [];
        for (const row of rows) {
          try {
            if (this.box.isCurrent(row.v)) result.current++;
            else changes.push({ id: row.id, old: row.v, v: this.box.reseal(row.v) });
          } catch (err) {
            if (!(err instanceof SecretBoxError)) throw err;
            result.unreadable++;
            if (unreadable.length < MAX_LISTED) unreadable.push({ column: name, id: row.id, keyId: err.keyId, message: err.message });
          }
        }
        if (changes.length > 0) {
          const written = rowsOf<{ id: string }>(
            await db.execute(
              sql`update ${table} as t set ${col} = u.v from json_to_recordset(${JSON.stringify(changes)}::json) as u(id text, old text, v text) where t.${pk} = cast(u.id as ${pkType}) and t.${col} = u.old returning t.${pk}::text as id`,
            ),
          ).length;
          result.reencrypted += written;
          result.changedMeanwhile += changes.length - written;
        }
        return rows;
      });
      done += scanned.length;
      listener.batch?.(name, done);
      cursor = scanned.at(-1)?.id;
      if (scanned.length < batchSize) break;
    }
    listener.finish?.(name);
    return result;
  }
}
