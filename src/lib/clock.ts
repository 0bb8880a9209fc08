/** Time is injected wherever behaviour depends on it, so tests move time instead of sleeping. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests set and advance by hand. */
export class ManualClock implements Clock {
  constructor(private current: number = Date.UTC(2026, 0, 15, 4, 0, 0)) {}
  now(): number {
    return this.current;
  }
  set(ms: number): void {
    this.current = ms;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

/** The UTC day of an instant, as YYYY-MM-DD (the inbox's partition key). */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
