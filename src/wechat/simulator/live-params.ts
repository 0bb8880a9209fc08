import type { LiveApp, LiveState } from './live-state.js';
import { fail, type SimReply, type SimRequest } from './replies.js';

/** A live call past the token, scenario, permission and quota steps. */
export interface LiveCall extends SimRequest {
  appId: string;
  app: LiveApp;
  live: LiveState;
  /** media_upload only: the multipart field `media`, or null when the body has none. */
  upload?: { size: number; type: string } | null;
}

export type LiveHandler = (call: LiveCall) => SimReply;

/** A request value read and checked, or WeChat's refusal of it. */
export type Checked<T> = { ok: true; value: T } | { ok: false; reply: SimReply };

export function valid<T>(value: T): Checked<T> {
  return { ok: true, value };
}

/** WeChat's 200002 for a missing or malformed parameter, naming it. */
export function badParam(field: string, why: string): { ok: false; reply: SimReply } {
  return { ok: false, reply: fail(200002, `parameter ${field} is invalid: ${why}`) };
}

/** Length the way WeChat counts names: a Chinese (any non-ASCII) character counts 2, ASCII 1. */
export function countedLength(text: string): number {
  let length = 0;
  for (const char of text) length += (char.codePointAt(0) ?? 0) > 0x7f ? 2 : 1;
  return length;
}

/** A number, or a numeric string (WeChat accepts both); null otherwise. */
export function numberOf(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return null;
}

export function integerOf(value: unknown): number | null {
  const number = numberOf(value);
  return number !== null && Number.isInteger(number) ? number : null;
}

export function requiredString(body: Record<string, unknown>, field: string): Checked<string> {
  const value = body[field];
  if (typeof value !== 'string' || value === '') return badParam(field, 'missing');
  return valid(value);
}

/** An integer field; `fallback` when absent (undefined: required). */
export function integerField(body: Record<string, unknown>, field: string, fallback?: number): Checked<number> {
  if (body[field] === undefined || body[field] === null) {
    return fallback === undefined ? badParam(field, 'missing') : valid(fallback);
  }
  const value = integerOf(body[field]);
  return value === null ? badParam(field, 'not an integer') : valid(value);
}

/** A 0/1 switch; `fallback` when absent (undefined: required). */
export function flagField(body: Record<string, unknown>, field: string, fallback?: number): Checked<number> {
  const checked = integerField(body, field, fallback);
  if (checked.ok && checked.value !== 0 && checked.value !== 1) return badParam(field, 'expected 0 or 1');
  return checked;
}

/** A query-string integer; `fallback` when absent. */
export function queryInteger(query: URLSearchParams, field: string, fallback?: number): Checked<number> {
  const raw = query.get(field);
  if (raw === null || raw === '') return fallback === undefined ? badParam(field, 'missing') : valid(fallback);
  const value = integerOf(raw);
  return value === null ? badParam(field, 'not an integer') : valid(value);
}

/** A paging window: `start`/`offset` ≥ 0 and 1 ≤ `limit` ≤ `max`. */
export function page(start: Checked<number>, limit: Checked<number>, names: [string, string], max: number): Checked<{ start: number; limit: number }> {
  if (!start.ok) return start;
  if (!limit.ok) return limit;
  if (start.value < 0) return badParam(names[0], 'must be 0 or more');
  if (limit.value < 1 || limit.value > max) return badParam(names[1], `must be between 1 and ${max}`);
  return valid({ start: start.value, limit: limit.value });
}
