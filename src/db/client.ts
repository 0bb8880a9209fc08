import { fileURLToPath } from 'node:url';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import * as tables from './tables.js';
import { pgliteScopes, postgresScopes, registerScopes } from './tenant-scope.js';

export type Tables = typeof tables;
/** The drizzle database, whichever driver is under it (postgres-js in production, PGlite for the demo). */
export type Db = PgDatabase<PgQueryResultHKT, Tables>;

export interface Database {
  db: Db;
  /** The raw postgres-js client, when the driver is postgres-js (benchmarks and LISTEN use it). */
  sql: postgres.Sql | undefined;
  driver: 'postgres' | 'pglite';
  migrate(): Promise<void>;
  close(): Promise<void>;
}

export const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url).href.replace('/dist/src/', '/src/'));

/**
 * `role`: a role every connection switches to (postgres-js sends it as the `role` startup
 * parameter), e.g. `wxlive_app`, which is not the tables' owner so row-level security applies to
 * it. Migrations never run as that role: `migrate()` opens a short-lived connection as the URL's user.
 */
export function connectPostgres(url: string, options: { max?: number; role?: string | undefined; applicationName?: string } = {}): Database {
  const connection: Record<string, string> = { application_name: options.applicationName ?? 'wxlive' };
  if (options.role) connection.role = options.role;
  const sql = postgres(url, { max: options.max ?? 10, onnotice: () => {}, connection });
  const db = drizzleWithScopes(sql);
  return {
    db,
    sql,
    driver: 'postgres',
    migrate: async () => {
      if (!options.role) return migratePostgres(drizzlePostgres(sql), { migrationsFolder });
      const owner = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: 'wxlive-migrate' } });
      try {
        await migratePostgres(drizzlePostgres(owner), { migrationsFolder });
      } finally {
        await owner.end({ timeout: 5 });
      }
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

/** Drizzle over a postgres-js client, with tenant scopes (see tenant-scope.ts). */
export function drizzleWithScopes(sql: postgres.Sql): Db {
  const { client, runner } = postgresScopes(sql);
  const db = drizzlePostgres(client, { schema: tables }) as unknown as Db;
  registerScopes(db, runner);
  return db;
}

/** Embedded Postgres (PGlite) for the demo: same schema and migrations, data kept in `dataDir`. */
export async function connectPglite(dataDir: string): Promise<Database> {
  // A devDependency: the demo's, not the production image's (there DATABASE_URL is required).
  const { PGlite } = await import('@electric-sql/pglite').catch((err: unknown) => {
    throw new Error('DATABASE_URL is not set and the embedded Postgres of the demo (@electric-sql/pglite) is not installed: set DATABASE_URL.', {
      cause: err,
    });
  });
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  const pglite = new PGlite(dataDir);
  const { client, runner } = pgliteScopes(pglite);
  const db = drizzle(client, { schema: tables });
  registerScopes(db as unknown as Db, runner);
  return {
    db: db as unknown as Db,
    sql: undefined,
    driver: 'pglite',
    migrate: () => migrate(db, { migrationsFolder }),
    close: () => pglite.close(),
  };
}

/** Rows of a raw `db.execute(sql...)`: postgres-js returns an array, PGlite an object with `rows`. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}

const ARRAY_ITEM = /^[0-9A-Za-z_.:-]+$/;

/**
 * A list as one Postgres array parameter (`= any(${arrayParam(ids)}::uuid[])`): one statement
 * text whatever the list's length, where drizzle's `in (...)` makes one per length. For ids,
 * numbers and dates only: an item that would need quoting in an array literal throws.
 */
export function arrayParam(items: readonly (string | number)[]): string {
  for (const item of items) if (!ARRAY_ITEM.test(String(item))) throw new Error(`arrayParam: "${String(item).slice(0, 40)}" needs quoting`);
  return `{${items.join(',')}}`;
}
