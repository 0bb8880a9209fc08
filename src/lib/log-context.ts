import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Who a piece of work is for, added to every log line written while it runs (the logger's
 * `mixin`): entered by the router for each HTTP request, by the apply worker for each job, by
 * the push processor for each push, and completed with the tenant once a request knows it.
 */
export interface LogContext {
  requestId?: string;
  tenantId?: string;
  applicationId?: string;
  jobId?: string;
}

const storage = new AsyncLocalStorage<LogContext>();

/** Runs `fn` with `context` added to the current one. */
export function withLogContext<T>(context: LogContext, fn: () => T): T {
  // Always a copy of our own: addToLogContext mutates the store, never the caller's object.
  return storage.run({ ...storage.getStore(), ...context }, fn);
}

/**
 * Runs `fn` with exactly `context`, whatever the current one: for work queued by one request or
 * job and started from another's completion, which would otherwise carry the wrong request id.
 */
export function withOwnLogContext<T>(context: LogContext, fn: () => T): T {
  return storage.run({ ...context }, fn);
}

/**
 * Adds fields to the current context for the rest of its work: a GraphQL request or a push learns
 * its tenant only after the router entered the request's context. Outside any context, nothing.
 */
export function addToLogContext(fields: LogContext): void {
  const store = storage.getStore();
  if (store) Object.assign(store, fields);
}

/** The fields to add to a log line: empty outside any context. */
export function logContext(): LogContext {
  return storage.getStore() ?? {};
}
