import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Database, Db } from '../../src/db/client.js';
import * as tables from '../../src/db/tables.js';
import { preparedIfParameterized, registerScopes } from '../../src/db/tenant-scope.js';

/**
 * The bench-only switch "row-level security off": the same drizzle handle the gateway builds,
 * but connected as the URL's user (the superuser, to whom no policy applies) and with scopes
 * that only run their function, so a service call is its bare statements: no transaction, no
 * `set_config`, no COMMIT. The services' own `where tenant_id = ...` filters still run. Used by
 * the baselines of figure 1 (the limit and the peer) and by the gateway's "scopes off" run;
 * never by production code (nothing under src/ imports bench/).
 */
export function connectBare(url: string, max = 10): Database {
  const sql = postgres(url, { max, onnotice: () => {}, connection: { application_name: 'wxlive-bench-bare' } });
  // Its queries prepared on the server as the gateway's are (preparedIfParameterized): the limit
  // does not pay drizzle's unnamed statements, re-planned on every call, that the gateway no longer pays.
  const client = new Proxy(sql, {
    get(target, prop) {
      if (prop === 'unsafe') {
        return (query: string, params?: postgres.ParameterOrJSON<never>[], options?: postgres.UnsafeQueryOptions) =>
          target.unsafe(query, params, preparedIfParameterized(params, options));
      }
      return Reflect.get(target, prop, target);
    },
  });
  const db = drizzle(client, { schema: tables }) as unknown as Db;
  registerScopes(db, { run: (_tenantId, fn) => fn() });
  return {
    db,
    sql,
    driver: 'postgres',
    migrate: async () => {},
    close: () => sql.end({ timeout: 5 }),
  };
}

/** Whether this bench server runs bare (BENCH_SCOPES=off). */
export const scopesOff = () => process.env.BENCH_SCOPES === 'off';
