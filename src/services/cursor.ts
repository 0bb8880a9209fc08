/** Opaque keyset cursors: base64url of "<createdAt ISO>|<id>". */
export interface Keyset {
  createdAt: Date;
  id: string;
}

export function encodeCursor(k: Keyset): string {
  return Buffer.from(`${k.createdAt.toISOString()}|${k.id}`).toString('base64url');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// What encodeCursor writes; other dates JavaScript accepts (year -100000) Postgres refuses.
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** A UUID Postgres accepts: a looser pattern ("-" x 36) made its uuid cast fail as an internal error. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** undefined for a cursor we did not issue (the caller reports INVALID_INPUT). */
export function decodeCursor(cursor: string): Keyset | undefined {
  const [iso, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!iso || !id || !ISO.test(iso) || !isUuid(id)) return undefined;
  const createdAt = new Date(iso);
  return Number.isNaN(createdAt.getTime()) ? undefined : { createdAt, id };
}

export interface Page<T> {
  items: T[];
  hasNextPage: boolean;
}

export const MAX_PAGE_SIZE = 100;

export function clampPageSize(first: number | undefined | null): number {
  if (first == null) return 20;
  return Math.max(0, Math.min(MAX_PAGE_SIZE, Math.trunc(first)));
}
