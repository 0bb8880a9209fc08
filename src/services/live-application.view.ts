import { type AnyColumn, type SQL, sql } from 'drizzle-orm';
import type { ApplicationStatus } from '../db/tables.js';
import { liveApplicationEvents, liveApplications } from '../db/tables.js';

/**
 * A LiveApplication as the API and the change feed see it. Dates are ISO strings, converted once
 * where rows are read: stringifying Date objects costs about 5x more on every response.
 */
export interface LiveApplicationView {
  id: string;
  tenantId: string;
  appId: string;
  status: ApplicationStatus;
  errcode: number | null;
  errmsg: string | null;
  errorCode: string | null;
  attempts: number;
  idempotencyKey: string | null;
  createdAt: string;
  submittedAt: string | null;
  openedAt: string | null;
  expiresAt: string | null;
  updatedAt: string;
}

export interface HistoryEventView {
  id: string;
  type: string;
  status: ApplicationStatus | null;
  errcode: number | null;
  errmsg: string | null;
  latencyMs: number | null;
  attempt: number | null;
  message: string | null;
  at: string;
}

export const applicationColumns = {
  id: liveApplications.id,
  tenantId: liveApplications.tenantId,
  appId: liveApplications.appId,
  status: liveApplications.status,
  errcode: liveApplications.errcode,
  errmsg: liveApplications.errmsg,
  errorCode: liveApplications.errorCode,
  attempts: liveApplications.attempts,
  idempotencyKey: liveApplications.idempotencyKey,
  createdAt: liveApplications.createdAt,
  submittedAt: liveApplications.submittedAt,
  openedAt: liveApplications.openedAt,
  expiresAt: liveApplications.expiresAt,
  updatedAt: liveApplications.updatedAt,
};

export type ApplicationRow = typeof liveApplications.$inferSelect;
type ApplicationSelection = Pick<ApplicationRow, keyof typeof applicationColumns>;

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function toApplicationView(r: ApplicationSelection): LiveApplicationView {
  return {
    id: r.id,
    tenantId: r.tenantId,
    appId: r.appId,
    status: r.status,
    errcode: r.errcode,
    errmsg: r.errmsg,
    errorCode: r.errorCode,
    attempts: r.attempts,
    idempotencyKey: r.idempotencyKey,
    createdAt: r.createdAt.toISOString(),
    submittedAt: iso(r.submittedAt),
    openedAt: iso(r.openedAt),
    expiresAt: iso(r.expiresAt),
    updatedAt: r.updatedAt.toISOString(),
  };
}

export const historyColumns = {
  id: liveApplicationEvents.id,
  applicationId: liveApplicationEvents.applicationId,
  type: liveApplicationEvents.type,
  status: liveApplicationEvents.status,
  errcode: liveApplicationEvents.errcode,
  errmsg: liveApplicationEvents.errmsg,
  latencyMs: liveApplicationEvents.latencyMs,
  attempt: liveApplicationEvents.attempt,
  message: liveApplicationEvents.message,
  createdAt: liveApplicationEvents.createdAt,
};

export function toHistoryView(r: Omit<typeof liveApplicationEvents.$inferSelect, 'tenantId' | 'applicationId'>): HistoryEventView {
  return {
    id: String(r.id),
    type: r.type,
    status: r.status,
    errcode: r.errcode,
    errmsg: r.errmsg,
    latencyMs: r.latencyMs,
    attempt: r.attempt,
    message: r.message,
    at: r.createdAt.toISOString(),
  };
}

/**
 * A timestamptz as the drivers hand it over (Postgres's text form, e.g. "2026-01-15 04:00:00.12+00";
 * a Date from elsewhere) as ISO 8601 UTC with milliseconds, exactly what `toISOString()` gives.
 * Sessions in UTC (the usual case) take a string-only path: no Date is made per value.
 */
export function isoTimestamp(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  const text = String(value);
  const n = text.length;
  // "YYYY-MM-DD HH:MM:SS" + optional ".f" to ".fff" + "+00"
  if (n >= 22 && n <= 26 && text.charCodeAt(10) === 32 && text.endsWith('+00') && (n === 22 || text.charCodeAt(19) === 46)) {
    const fraction = n === 22 ? '.000' : text.slice(19, n - 3).padEnd(4, '0');
    return `${text.slice(0, 10)}T${text.slice(11, 19)}${fraction}Z`;
  }
  return new Date(text).toISOString();
}

const isoColumn = (column: AnyColumn): SQL<string> => sql<string>`${column}`.mapWith(isoTimestamp);
const isoColumnOrNull = (column: AnyColumn): SQL<string | null> => sql<string | null>`${column}`.mapWith(isoTimestamp);

/**
 * The view's columns, timestamps read as ISO strings straight from the driver's text: a selection
 * with these yields LiveApplicationView rows with no Date made and no second mapping.
 */
export const applicationViewColumns = {
  ...applicationColumns,
  createdAt: isoColumn(liveApplications.createdAt),
  submittedAt: isoColumnOrNull(liveApplications.submittedAt),
  openedAt: isoColumnOrNull(liveApplications.openedAt),
  expiresAt: isoColumnOrNull(liveApplications.expiresAt),
  updatedAt: isoColumn(liveApplications.updatedAt),
};

/** History events as HistoryEventView, plus the application they belong to. */
export const historyViewColumns = {
  applicationId: liveApplicationEvents.applicationId,
  id: sql<string>`${liveApplicationEvents.id}`.mapWith(String),
  type: liveApplicationEvents.type,
  status: liveApplicationEvents.status,
  errcode: liveApplicationEvents.errcode,
  errmsg: liveApplicationEvents.errmsg,
  latencyMs: liveApplicationEvents.latencyMs,
  attempt: liveApplicationEvents.attempt,
  message: liveApplicationEvents.message,
  at: isoColumn(liveApplicationEvents.createdAt),
};

/**
 * The view's columns for data-modifying CTEs: `RETURNING ${APPLICATION_VIEW_RETURNING}` names them
 * as the view, and a select from the CTE with `applicationViewOfCte` reads them back as the view
 * (timestamps through `isoTimestamp`), in statements drizzle can prepare.
 */
export const APPLICATION_VIEW_RETURNING = sql.raw(
  '"id", "tenant_id" as "tenantId", "app_id" as "appId", "status", "errcode", "errmsg", "error_code" as "errorCode", "attempts", ' +
    '"idempotency_key" as "idempotencyKey", "created_at" as "createdAt", "submitted_at" as "submittedAt", "opened_at" as "openedAt", ' +
    '"expires_at" as "expiresAt", "updated_at" as "updatedAt"',
);

const cteColumn = <T>(name: string) => sql<T>`${sql.identifier(name)}`.as(name);
const cteTimestamp = (name: string) => sql<string>`${sql.identifier(name)}`.mapWith(isoTimestamp).as(name);
const cteTimestampOrNull = (name: string) => sql<string | null>`${sql.identifier(name)}`.mapWith(isoTimestamp).as(name);

export const applicationViewOfCte = {
  id: cteColumn<string>('id'),
  tenantId: cteColumn<string>('tenantId'),
  appId: cteColumn<string>('appId'),
  status: cteColumn<ApplicationStatus>('status'),
  errcode: cteColumn<number | null>('errcode'),
  errmsg: cteColumn<string | null>('errmsg'),
  errorCode: cteColumn<string | null>('errorCode'),
  attempts: cteColumn<number>('attempts'),
  idempotencyKey: cteColumn<string | null>('idempotencyKey'),
  createdAt: cteTimestamp('createdAt'),
  submittedAt: cteTimestampOrNull('submittedAt'),
  openedAt: cteTimestampOrNull('openedAt'),
  expiresAt: cteTimestampOrNull('expiresAt'),
  updatedAt: cteTimestamp('updatedAt'),
};
