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
 *
 * A shared scope (`sharedTenantScope`) is for a unit of work made of several service calls for one
 * tenant, e.g. a GraphQL query: every `inTenant` for that tenant inside it joins one transaction,
 * opened by the first of them and committed when the unit ends, so the unit pays one
 * `begin; set_config` and one COMMIT instead of one pair per call. Scopes for the system or
 * another tenant inside it are not nested in it: they run as scopes of their own. The backstop is
 * the same (every statement runs in a transaction that sees only that tenant).
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SYSTEM = null;

/** What a scope of its own asks of its transaction; a scope that joins one already running gets that one's. */
export interface ScopeOptions {
  /**
   * Plan the scope's statements generically (`plan_cache_mode = force_generic_plan`, set with the
   * tenant in the opening message: no round trip more). For statements that find rows by id in
   * day partitions: a custom plan is made from the statistics for the values at hand, and a day's
   * partition's statistics lag its growth (autoanalyze runs after 10 % more rows, at most once a
   * minute), so it can read every pending row of the day through another index to claim two. A
   * generic plan weighs a parameter by the default selectivity and takes the primary key; it is
   * also planned once per connection instead of on every call.
   */
  genericPlans?: boolean;
}

/** The scope options of the batched statements on day partitions (see genericPlans). */
export const GENERIC_PLANS: ScopeOptions = { genericPlans: true };

/** How a database handle opens scopes; registered for each handle by connectPostgres / connectPglite. */
export interface ScopeRunner {
  /** `tenantId` null: the system scope (every tenant). */
  run<T>(tenantId: string | null, fn: () => Promise<T>, options?: ScopeOptions): Promise<T>;
  /** Runs `fn` so that `tenantId`'s scopes in it share one transaction (see sharedTenantScope); absent: `fn()`. */
  shared?<T>(tenantId: string, fn: () => Promise<T>): Promise<T>;
  /** A scope for exactly one statement, in one round trip (see inTenantStatement); absent: `run`. */
  single?<T>(tenantId: string, fn: () => Promise<T>, options?: ScopeOptions): Promise<T>;
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
export function inTenant<T>(db: Db, tenantId: string, fn: (db: Db) => PromiseLike<T>, options?: ScopeOptions): Promise<T> {
  if (!UUID.test(tenantId)) return Promise.reject(new Error(`inTenant: "${tenantId}" is not a tenant id`));
  return inSpan('db inTenant', { attributes: { 'wxlive.tenant_id': tenantId } }, () => runnerOf(db).run(tenantId, () => started(fn(db)), options));
}

/**
 * As inTenant, for a scope whose `fn` runs exactly one statement (a worker's row read, a
 * transition): `begin; set_config`, the statement and COMMIT go out together, one round trip and
 * one socket write where inTenant needs two of each. The statement's result is returned only once
 * COMMIT succeeded; a statement that fails makes the COMMIT a rollback. A second statement in the
 * scope is a bug and throws. Inside a running scope or shared unit it joins it like inTenant.
 */
export function inTenantStatement<T>(db: Db, tenantId: string, fn: (db: Db) => PromiseLike<T>, options?: ScopeOptions): Promise<T> {
  if (!UUID.test(tenantId)) return Promise.reject(new Error(`inTenantStatement: "${tenantId}" is not a tenant id`));
  const runner = runnerOf(db);
  return inSpan('db inTenant', { attributes: { 'wxlive.tenant_id': tenantId } }, () =>
    runner.single ? runner.single(tenantId, () => started(fn(db)), options) : runner.run(tenantId, () => started(fn(db)), options),
  );
}

/**
 * Runs `fn` (a unit of work for one tenant: a GraphQL query) so that every `inTenant(db, tenantId, …)`
 * in it joins one transaction, opened lazily by the first and committed when `fn` has settled
 * (a unit that never touches the database opens nothing). `asSystem` and other tenants' scopes
 * inside it run as scopes of their own. Once a joined call fails, the shared transaction is rolled
 * back at the end and later calls run in scopes of their own, so one failure does not turn the
 * unit's other calls into "transaction aborted": use it where calls succeed or fail together
 * (reads), not around writes that must survive a later failure.
 */
export function sharedTenantScope<T>(db: Db, tenantId: string, fn: () => Promise<T>): Promise<T> {
  if (!UUID.test(tenantId)) return Promise.reject(new Error(`sharedTenantScope: "${tenantId}" is not a tenant id`));
  const runner = runnerOf(db);
  return runner.shared ? runner.shared(tenantId, fn) : fn();
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
  return checked(storage.getStore());
}

/** The scope, if it is still open; a query made after its scope ended is a bug. */
function checked<S extends Scope<unknown>>(scope: S | undefined): S | undefined {
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
  const storage = new AsyncLocalStorage<PgScope | SharedScope>();
  /** The running scope, if any: a shared scope outside the scopes that joined it is none. */
  const scopeNow = (): PgScope | undefined => {
    const store = storage.getStore();
    return store && 'tx' in store ? checked(store) : undefined;
  };
  const savepoint = async <T>(scope: PgScope, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> => {
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
        return (query: string, params?: postgres.ParameterOrJSON<never>[], given?: postgres.UnsafeQueryOptions) => {
          const options = preparedIfParameterized(params, given);
          const scope = scopeNow();
          if (!scope) return target.unsafe(query, params, options);
          if (scope.committing) throw new Error('A second statement ran in a single-statement scope (inTenantStatement).');
          const pending = scope.tx.unsafe(query, params, options);
          if (scope.single) {
            // Started now, COMMIT queued right behind it on the same connection: one write, one round trip.
            pending.execute();
            scope.committing = scope.tx.unsafe('commit').execute();
          }
          return pending;
        };
      }
      if (prop === 'begin' || prop === 'savepoint') {
        // drizzle's transaction (begin) and nested transaction (savepoint on the client it was given, this one).
        return <T>(fn: (sql: postgres.Sql) => Promise<T>) => {
          const scope = scopeNow();
          if (scope) return savepoint(scope, fn);
          if (prop === 'savepoint') throw new Error('savepoint outside a transaction');
          return target.begin(fn as unknown as (sql: postgres.TransactionSql) => Promise<T>);
        };
      }
      return Reflect.get(target, prop, target);
    },
  });

  /**
   * Reserves a pooled connection and sends `begin; select set_config(...)` as one simple query, not
   * awaited: the scope's first statement follows it in the same round trip.
   */
  const open = async (tenantId: string | null, options?: ScopeOptions): Promise<OpenTransaction> => {
    const [name, value] = settingOf(tenantId);
    if (value !== 'on' && !UUID.test(value)) throw new Error(`"${value}" is not a tenant id`);
    const reserved = await pool.reserve();
    const generic = options?.genericPlans ? `, set_config('plan_cache_mode', 'force_generic_plan', true)` : '';
    const opening = reserved.unsafe(`begin; select set_config('${name}', '${value}', true)${generic}`).execute();
    const openingFailed = opening.then(
      () => undefined,
      (err: unknown) => err,
    );
    return {
      reserved,
      opening,
      openingFailed,
      connectionLost: false,
      scope: { tx: reserved, tenantId, open: true, savepoints: 0, single: false, committing: undefined },
    };
  };
  const noteLoss = (t: OpenTransaction, err: unknown) => {
    if (isConnectionLoss(err)) t.connectionLost = true;
  };
  /** Rolls back after `err` and returns the error to report: a failed BEGIN or set_config explains every later error. */
  const rollback = async (t: OpenTransaction, err: unknown): Promise<unknown> => {
    t.scope.open = false;
    const cause = (await t.openingFailed) ?? err;
    noteLoss(t, cause);
    noteLoss(t, err);
    if (!t.connectionLost) await t.reserved.unsafe('rollback').catch((e: unknown) => noteLoss(t, e));
    return cause;
  };
  const commit = async (t: OpenTransaction): Promise<void> => {
    t.scope.open = false;
    await t.opening;
    await t.reserved.unsafe('commit').catch((err: unknown) => {
      noteLoss(t, err);
      throw err;
    });
  };
  /**
   * A connection that died in a scope is not released: postgres-js has already moved it to its
   * closed queue, from which it reconnects it, and releasing it would put it back among the open ones.
   */
  const release = (t: OpenTransaction) => {
    if (!t.connectionLost) t.reserved.release();
  };

  /** A scope of its own: one transaction around `fn`. */
  const own = async <T>(tenantId: string | null, fn: () => Promise<T>, options?: ScopeOptions): Promise<T> => {
    const t = await open(tenantId, options);
    try {
      let result: T;
      try {
        result = await storage.run(t.scope, fn);
        await t.opening;
      } catch (err) {
        throw await rollback(t, err);
      }
      await commit(t);
      return result;
    } finally {
      t.scope.open = false;
      release(t);
    }
  };

  /** A scope of its own for one statement, its COMMIT sent with it (see inTenantStatement). */
  const ownSingle = async <T>(tenantId: string, fn: () => Promise<T>, options?: ScopeOptions): Promise<T> => {
    const t = await open(tenantId, options);
    t.scope.single = true;
    try {
      let result: T;
      try {
        result = await storage.run(t.scope, fn);
        await t.opening;
      } catch (err) {
        if (!t.scope.committing) throw await rollback(t, err);
        // The COMMIT that followed the failed statement ended the transaction (as a rollback).
        t.scope.open = false;
        await t.scope.committing.catch((e: unknown) => noteLoss(t, e));
        const cause = (await t.openingFailed) ?? err;
        noteLoss(t, cause);
        throw cause;
      }
      t.scope.open = false;
      if (!t.scope.committing) {
        await commit(t);
      } else {
        await t.scope.committing.catch((err: unknown) => {
          noteLoss(t, err);
          throw err;
        });
      }
      return result;
    } finally {
      t.scope.open = false;
      release(t);
    }
  };

  /** A scope joining the unit's shared transaction, which the first one opens. */
  const join = async <T>(shared: SharedScope, fn: () => Promise<T>): Promise<T> => {
    shared.transaction ??= open(shared.tenantId);
    const t = await shared.transaction;
    try {
      return await storage.run(t.scope, fn);
    } catch (err) {
      // Later calls of the unit run in scopes of their own; the shared transaction is rolled back at the end.
      shared.failed = true;
      throw (await t.openingFailed) ?? err;
    }
  };

  const runner: ScopeRunner = {
    run<T>(tenantId: string | null, fn: () => Promise<T>, options?: ScopeOptions): Promise<T> {
      const store = storage.getStore();
      if (store && !('tx' in store)) {
        if (store.tenantId === tenantId && !store.ended && !store.failed) return join(store, fn);
        // Not nested in the unit's transaction: a scope of its own, outside the shared one.
        return storage.exit(() => own(tenantId, fn, options));
      }
      if (joinable(store, tenantId)) return fn();
      return own(tenantId, fn, options);
    },
    single<T>(tenantId: string, fn: () => Promise<T>, options?: ScopeOptions): Promise<T> {
      // Inside a scope or a shared unit: joins or runs as inTenant would.
      if (storage.getStore()) return runner.run(tenantId, fn, options);
      return ownSingle(tenantId, fn, options);
    },
    async shared<T>(tenantId: string, fn: () => Promise<T>): Promise<T> {
      const store = storage.getStore();
      // Inside a scope already (or another unit): nothing to share beyond what is there.
      if (store) return fn();
      const shared: SharedScope = { tenantId, transaction: undefined, ended: false, failed: false };
      let result: T;
      try {
        result = await storage.run(shared, fn);
      } catch (err) {
        shared.failed = true;
        throw err;
      } finally {
        shared.ended = true;
        if (shared.transaction) await finishShared(shared);
      }
      return result;
    },
  };
  const finishShared = async (shared: SharedScope): Promise<void> => {
    let t: OpenTransaction;
    try {
      t = await (shared.transaction as Promise<OpenTransaction>);
    } catch {
      return; // reserving failed: the joined call reported it
    }
    try {
      if (shared.failed) await rollback(t, undefined);
      else await commit(t);
    } finally {
      t.scope.open = false;
      release(t);
    }
  };
  return { client, runner };
}

/**
 * drizzle prepares on the server only the queries given a name (`.prepare(name)`) and sends every
 * other one unnamed, so Postgres parsed and planned it again on each call (pg_stat_statements in
 * the benches: the inbox insert, the delivery log's batches, the token lookup, planned as often as
 * called, 0.2-2 ms each time). Here every query with parameters is a named prepared statement,
 * as postgres-js's own tagged queries are: parsed once per connection and statement text, planned
 * once when Postgres finds its generic plan as good (plan_cache_mode auto). A pool made with
 * `prepare: false` (a transaction-mode pooler) still prepares nothing: postgres-js ands the two.
 *
 * A connection keeps each statement it prepared until it is closed (postgres-js replaces it after
 * 30-60 minutes), and a list whose length varies (`in (...)`, VALUES rows) is one statement per
 * length: past MAX_AUTO_PREPARED_PARAMS parameters a query stays unnamed, which bounds what a list
 * can add to 32 statements per connection. The hot statements pass their lists as one array.
 */
const MAX_AUTO_PREPARED_PARAMS = 32;

export function preparedIfParameterized(
  params: readonly unknown[] | undefined,
  options: postgres.UnsafeQueryOptions | undefined,
): postgres.UnsafeQueryOptions | undefined {
  if (params === undefined || params.length === 0 || params.length > MAX_AUTO_PREPARED_PARAMS || options?.prepare === true) return options;
  return { ...options, prepare: true };
}

type PgScope = Scope<postgres.ReservedSql> & {
  savepoints: number;
  /** A single-statement scope (inTenantStatement): its first statement queues the COMMIT. */
  single: boolean;
  /** That COMMIT, once queued. */
  committing: Promise<unknown> | undefined;
};

/** A unit of work's shared scope (sharedTenantScope), before and after its transaction opens. */
interface SharedScope {
  tenantId: string;
  transaction: Promise<OpenTransaction> | undefined;
  /** The unit has settled: later scopes run on their own. */
  ended: boolean;
  /** A joined call (or the unit) failed: the transaction is rolled back at the end. */
  failed: boolean;
}

interface OpenTransaction {
  reserved: postgres.ReservedSql;
  /** `begin; set_config`, sent with the first statement. */
  opening: Promise<unknown>;
  /** Its error, or undefined once it succeeded. */
  openingFailed: Promise<unknown>;
  connectionLost: boolean;
  scope: PgScope;
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
