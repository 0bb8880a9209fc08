import { isAppId } from '../services/app-id.js';
import { UsageError } from './cli-errors.js';

/** Option values as node:util parseArgs returns them (an array for options with `multiple`). */
export type OptionValues = Record<string, string | boolean | string[] | undefined>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Reads typed option values for one command; every problem is a UsageError naming the option. */
export class Args {
  constructor(
    private readonly values: OptionValues,
    private readonly command: string,
  ) {}

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  string(name: string): string | undefined {
    const v = this.values[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.trim() === '') throw this.error(`--${name} needs a value`);
    return v;
  }

  required(name: string): string {
    const v = this.string(name);
    if (v === undefined) throw this.error(`--${name} is required`);
    return v;
  }

  int(name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      throw this.error(`--${name} expects a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? '' : ` to ${max}`}, got "${v}"`);
    }
    return Number(v);
  }

  /** A whole number, or "unlimited" for null. */
  limit(name: string): number | null | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    if (v.toLowerCase() === 'unlimited') return null;
    return this.int(name, 1);
  }

  /** An instant: an ISO 8601 date-time (2027-01-01T00:00:00Z) or a date (2027-01-01, midnight UTC). */
  instant(name: string): Date | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    const date = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(v) ? new Date(v) : undefined;
    if (!date || Number.isNaN(date.getTime()))
      throw this.error(`--${name} expects an ISO 8601 date or date-time (2027-01-01, 2027-01-01T00:00:00Z), got "${v}"`);
    return date;
  }

  tenantId(): string {
    const v = this.required('tenant');
    if (!UUID.test(v)) throw this.error(`--tenant expects a tenant id (a UUID, as "wxlive tenant list" shows), got "${v}"`);
    return v.toLowerCase();
  }

  appId(name: string, required: true): string;
  appId(name: string, required: false): string | undefined;
  appId(name: string, required: boolean): string | undefined {
    const v = required ? this.required(name) : this.string(name);
    if (v !== undefined && !isAppId(v)) throw this.error(`--${name} expects an app id ("wx" + 16 lowercase hex characters), got "${v}"`);
    return v;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    const found = allowed.find((a) => a === v);
    if (found === undefined) throw this.error(`--${name} expects one of ${allowed.join(', ')}, got "${v}"`);
    return found;
  }

  /**
   * Values of a repeatable option (`multiple`), each also comma-separated: `--scope read --scope
   * token` and `--scope read,token` are the same. Repeats dropped; undefined when not given.
   */
  someOf<T extends string>(name: string, allowed: readonly T[]): T[] | undefined {
    const v = this.values[name];
    if (v === undefined) return undefined;
    const raw = (Array.isArray(v) ? v : [v]).flatMap((s) => (typeof s === 'string' ? s.split(',') : [])).map((s) => s.trim());
    if (raw.length === 0 || raw.some((s) => s === '')) throw this.error(`--${name} needs a value`);
    const found = raw.map((s) => {
      const match = allowed.find((a) => a === s);
      if (match === undefined) throw this.error(`--${name} expects one or more of ${allowed.join(', ')}, got "${s}"`);
      return match;
    });
    return [...new Set(found)];
  }

  /** A comma-separated list, each item checked by `item`. */
  list<T>(name: string, item: (raw: string) => T | undefined, expected: string): T[] | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    return v.split(',').map((raw) => {
      const parsed = item(raw.trim());
      if (parsed === undefined) throw this.error(`--${name} expects ${expected}, got "${raw.trim()}"`);
      return parsed;
    });
  }

  error(message: string): UsageError {
    return new UsageError(message, this.command);
  }
}
