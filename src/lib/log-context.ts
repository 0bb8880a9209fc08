import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Who a piece of work is for, for log lines written deep below the code that knows it: a WeChat
 * call made inside a GraphQL request or an apply job carries the request or job it served.
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
  const outer = storage.getStore();
  return storage.run(outer ? { ...outer, ...context } : context, fn);
}

/** The fields to add to a log line: empty outside any context. */
export function logContext(): LogContext {
  return storage.getStore() ?? {};
}
