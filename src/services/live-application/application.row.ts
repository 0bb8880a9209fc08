import { type Column, getTableColumns, type SQL, sql } from 'drizzle-orm';
import { liveApplicationEvents, liveApplications } from '../../db/tables.js';

/**
 * The one mapping of a live_applications row. Every shape the lifecycle needs (a drizzle
 * selection, a RETURNING list, the columns of a CTE, the outbox's JSON) is derived here from the
 * table in tables.ts, so a new column is one line there plus its migration.
 */

type ApplicationRow = typeof liveApplications.$inferSelect;

/**
 * A LiveApplication as the API and the change feed see it: the row, with timestamps as ISO
 * strings, converted once where rows are read (stringifying Date objects costs about 5x more on
 * every response).
 */
export type LiveApplicationView = {
  [K in keyof ApplicationRow]: ApplicationRow[K] extends Date ? string : ApplicationRow[K] extends Date | null ? string | null : ApplicationRow[K];
};

export interface HistoryEventView {
  id: string;
  type: string;
  status: ApplicationRow['status'] | null;
  errcode: number | null;
  errmsg: string | null;
  latencyMs: number | null;
  attempt: number | null;
  message: string | null;
  at: string;
}

/**
 * A timestamptz as the drivers hand it over (Postgres's text form, e.g. "2026-01-15 04:00:00.12+00";
 * JSON's "2026-01-15T04:00:00.12+00:00"; a Date from elsewhere) as ISO 8601 UTC with milliseconds,
 * exactly what `toISOString()` gives. Sessions in UTC (the usual case) take a string-only path.
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

const isoOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : isoTimestamp(value));

type ViewKey = keyof LiveApplicationView;
const COLUMNS = Object.entries(getTableColumns(liveApplications)) as [ViewKey, Column][];
const isTimestamp = (column: Column) => column.dataType === 'date';

type ViewSelection = { [K in ViewKey]: SQL<LiveApplicationView[K]> | SQL.Aliased<LiveApplicationView[K]> };

/** The view's columns for `select(...)` / `returning(...)`: timestamps read as ISO strings straight from the driver's text. */
export const applicationView = Object.fromEntries(
  COLUMNS.map(([key, column]) => [key, isTimestamp(column) ? sql`${column}`.mapWith(isoOrNull) : sql`${column}`.mapWith(column)]),
) as ViewSelection;

/** `returning ${APPLICATION_RETURNING}` in a CTE names the row's columns as the view's keys. */
export const APPLICATION_RETURNING: SQL = sql.join(
  COLUMNS.map(([key, column]) => sql`${sql.identifier(column.name)} as ${sql.identifier(key)}`),
  sql`, `,
);

/** The columns of a CTE made with APPLICATION_RETURNING, read back as the view (`db.$with(name, applicationViewOfCte)`). */
export const applicationViewOfCte = Object.fromEntries(
  COLUMNS.map(([key, column]) => [key, sql`${sql.identifier(key)}`.mapWith(isTimestamp(column) ? isoOrNull : column).as(key)]),
) as { [K in ViewKey]: SQL.Aliased<LiveApplicationView[K]> };

/** The outbox's copy of a change (`to_json` of a CTE row made with APPLICATION_RETURNING) as the view. */
export function viewOfJson(json: Record<string, unknown>): LiveApplicationView {
  const view: Record<string, unknown> = {};
  for (const [key, column] of COLUMNS) view[key] = isTimestamp(column) ? isoOrNull(json[key]) : (json[key] ?? null);
  return view as LiveApplicationView;
}

/** History events as HistoryEventView, plus the application they belong to. */
export const historyView = {
  applicationId: liveApplicationEvents.applicationId,
  id: sql<string>`${liveApplicationEvents.id}`.mapWith(String),
  type: liveApplicationEvents.type,
  status: liveApplicationEvents.status,
  errcode: liveApplicationEvents.errcode,
  errmsg: liveApplicationEvents.errmsg,
  latencyMs: liveApplicationEvents.latencyMs,
  attempt: liveApplicationEvents.attempt,
  message: liveApplicationEvents.message,
  at: sql<string>`${liveApplicationEvents.createdAt}`.mapWith(isoTimestamp),
};
