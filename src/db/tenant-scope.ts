import { AsyncLocalStorage } from 'node:async_hooks';
import type postgres from 'postgres';
import { inSpan } from '../lib/tracing.js';
import type { Db } from './client.js';

/**
 * Row-level security scopes. Every tenant table has a policy (pgPolicy in tables.ts, migrations
 * 0002-0004) that lets a row through when its tenant is the transaction's `wxlive.tenant_id`, or when
 * `wxlive.rls_bypass` is on; both are set with `set_config(..., true)`, so they last only until
 * the transaction ends and never leak to the next user of a pooled connection. The app connects
 * as a role the policies apply to (DATABASE_APP_ROLE), so outside a scope it sees no rows at all.
 *
 * A scope is one transaction, and every query made through the database handle while the scope
 * runs goes into it, prepared statements included: the driver client under drizzle is routed
 * through an AsyncLocalStorage of the scope. A `db.transaction(...)` inside a scope becomes a
 * savepoint of the scope's transaction. A scope inside a scope of the same tenant joins it; one
 * for another tenant is a bug and throws.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SYSTEM = null;

/** How a database handle opens scopes; registered for each handle by connectPostgres / connectPglite. */
export interface ScopeRunner {
  /** `tenantId` null: the system scope (every tenant). */
  run<T>(tenantId: string | null, fn: () => Promise<T>): Promise<T>;
}

const runners = new WeakMap<object, ScopeRunner>();

export function registerScopes(db: Db, runner: ScopeRunner): void {
  runners.set(db, runner);
}

function runnerOf(db: Db): ScopeRunner {
  const runner = runners.get(db);
  if (!runner) throw new Error('This database handle has no tenant scopes: open it with connectPostgres or connectPglite.');
  return runner;
}

/** Runs `fn` in a transaction that can see and write only `tenantId`'s rows. `fn` gets the same handle back. */
export function inTenant<T>(db: Db, tenantId: string, fn: (db: Db) => PromiseLike<T>): Promise<T> {
  if (!UUID.test(tenantId)) return Promise.reject(new Error(`inTenant: "${tenantId}" is not a tenant id`));
  return inSpan('db inTenant', { attributes: { 'wxlive.tenant_id': tenantId } }, () => runnerOf(db).run(tenantId, () => started(fn(db))));
}

/** Runs `fn` in a transaction that sees every tenant: only for the cross-tenant paths (key lookup, scans, gauges). */
export function asSystem<T>(db: Db, fn: (db: Db) => PromiseLike<T>): Promise<T> {
  return inSpan('db asSystem', {}, () => runnerOf(db).run(SYSTEM, () => started(fn(db))));
}

/**
 * Drizzle's query builders are lazy thenables: they run when `then` is called. Awaiting one
 * returned from a scope would call `then` a tick later, outside the scope, so it is called here,
 * inside it.
 */
function started<T>(result: PromiseLike<T>): Promise<T> {
  return result instanceof Promise ? result : new Promise<T>((resolve, reject) => result.then(resolve, reject));
}

interface Scope<C> {
  /** The transaction's client. */
  tx: C;
  tenantId: string | null;
  open: boolean;
}

/** Decides whether a scope joins the one already running, or refuses. */
function joinable(current: Scope<unknown> | undefined, tenantId: string | null): boolean {
  if (!current?.open) return false;
  if (current.tenantId === tenantId) return true;
  const name = (t: string | null) => (t === SYSTEM ? 'the system scope' : `tenant ${t}`);
  throw new Error(`A scope for ${name(tenantId)} was opened inside one for ${name(current.tenantId)}.`);
}

function settingOf(tenantId: string | null): [string, string] {
  return tenantId === SYSTEM ? ['wxlive.rls_bypass', 'on'] : ['wxlive.tenant_id', tenantId];
}

function current<S extends Scope<unknown>>(storage: AsyncLocalStorage<S>): S | undefined {
  const scope = storage.getStore();
  if (scope && !scope.open) throw new Error('A query ran after its tenant scope ended; keep database work inside inTenant/asSystem.');
  return scope;
}

/**
 * postgres-js: returns the client to build drizzle on, whose queries go into the running scope's
 * transaction, and the runner that opens scopes.
 *
 * A scope reserves a pooled connection and sends `begin; select set_config(...)` as one simple
 * query, not awaited: the scope's first statement follows it in the same round trip. Then COMMIT
 * (or ROLLBACK), and the connection goes back to the pool. Measured against postgres-js's own
 * `begin()` (which awaits BEGIN alone first, then needs set_config as a second message): about
 * 1.7x the scopes per second and 35-40 % less client CPU per scope. The setting is inlined, which
 * is safe only because it is a validated uuid or the constant `on`.
 *
 * A connection that died in a scope is not released: postgres-js has already moved it to its
 * closed queue, from which it reconnects it, and releasing it would put it back among the open
 * ones.
 */
export function postgresScopes(pool: postgres.Sql): { client: postgres.Sql; runner: ScopeRunner } {
  const storage = new AsyncLocalStorage<Scope<postgres.ReservedSql> & { savepoints: number }>();
  const savepoint = async <T>(scope: Scope<postgres.ReservedSql> & { savepoints: number }, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> => {
    const name = `wxlive_s${scope.savepoints++}`;
    await scope.tx.unsafe(`savepoint ${name}`);
    try {
      const result = await fn(client);
      await scope.tx.unsafe(`release savepoint ${name}`);
      return result;
    } catch (err) {
      await scope.tx.unsafe(`rollback to savepoint ${name}`);
      throw err;
    }
  };
  const client: postgres.Sql = new Proxy(pool, {
    get(target, prop) {
      if (prop === 'unsafe') {
        return (query: string, params?: postgres.ParameterOrJSON<never>[], options?: postgres.UnsafeQueryOptions) =>
          (current(storage)?.tx ?? target).unsafe(query, params, options);
      }
      if (prop === 'begin' || prop === 'savepoint') {
        // drizzle's transaction (begin) and nested transaction (savepoint on the client it was given, this one).
        return <T>(fn: (sql: postgres.Sql) => Promise<T>) => {
          const scope = current(storage);
          if (scope) return savepoint(scope, fn);
          if (prop === 'savepoint') throw new Error('savepoint outside a transaction');
          return target.begin(fn as unknown as (sql: postgres.TransactionSql) => Promise<T>);
        };
      }
      return Reflect.get(target, prop, target);
    },
  });
  const runner: ScopeRunner = {
    async run<T>(tenantId: string | null, fn: () => Promise<T>): Promise<T> {
      if (joinable(storage.getStore(), tenantId)) return fn();
      const [name, value] = settingOf(tenantId);
      if (value !== 'on' && !UUID.test(value)) throw new Error(`"${value}" is not a tenant id`);
      const reserved = await pool.reserve();
      let connectionLost = false;
      const noteLoss = (err: unknown) => {
        if (isConnectionLoss(err)) connectionLost = true;
      };
      try {
        const opening = reserved.unsafe(`begin; select set_config('${name}', '${value}', true)`).execute();
        const openingFailed = opening.then(
          () => undefined,
          (err: unknown) => err,
        );
        const scope = { tx: reserved, tenantId, open: true, savepoints: 0 };
        let result: T;
        try {
          result = await storage.run(scope, fn);
          await opening;
        } catch (err) {
          // A failed BEGIN or set_config explains every later error of the scope: report it first.
          const cause = (await openingFailed) ?? err;
          noteLoss(cause);
          noteLoss(err);
          if (!connectionLost) await reserved.unsafe('rollback').catch(noteLoss);
          throw cause;
        } finally {
          scope.open = false;
        }
        await reserved.unsafe('commit').catch((err: unknown) => {
          noteLoss(err);
          throw err;
        });
        return result;
      } finally {
        if (!connectionLost) reserved.release();
      }
    },
  };
  return { client, runner };
}

const LOST_CONNECTION_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

/** Whether an error (or the driver error drizzle wraps) says the connection is gone: 08xxx, 57P0x, or a socket error. */
function isConnectionLoss(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 3; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (LOST_CONNECTION_CODES.has(code) || code.startsWith('08') || code.startsWith('57P0'))) return true;
  }
  return false;
}

/** The part of a PGlite client and of its transactions that drizzle uses. */
interface PgliteQueryable {
  query(query: string, params?: unknown[], options?: object): Promise<unknown>;
}
interface PgliteLike extends PgliteQueryable {
  transaction<T>(fn: (tx: PgliteQueryable) => Promise<T>): Promise<T>;
}

/**
 * PGlite (the demo): one embedded connection, used as its superuser, to which policies do not
 * apply; scopes still make each service call one transaction, so the demo behaves like Postgres.
 */
export function pgliteScopes<C extends PgliteLike>(pglite: C): { client: C; runner: ScopeRunner } {
  const storage = new AsyncLocalStorage<Scope<PgliteQueryable>>();
  const client = new Proxy(pglite, {
    get(target, prop) {
      if (prop === 'query') {
        return (query: string, params?: unknown[], options?: object) => (current(storage)?.tx ?? target).query(query, params, options);
      }
      if (prop === 'transaction') {
        return <T>(fn: (tx: PgliteQueryable) => Promise<T>) => {
          const scope = current(storage);
          return scope ? fn(scope.tx) : target.transaction(fn);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const runner: ScopeRunner = {
    run<T>(tenantId: string | null, fn: () => Promise<T>): Promise<T> {
      if (joinable(storage.getStore(), tenantId)) return fn();
      return pglite.transaction(async (tx) => {
        await tx.query('select set_config($1, $2, true)', settingOf(tenantId));
        const scope: Scope<PgliteQueryable> = { tx, tenantId, open: true };
        try {
          return await storage.run(scope, fn);
        } finally {
          scope.open = false;
        }
      });
    },
  };
  return { client, runner };
}
