import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { InboxStore } from './inbox.store.js';
import type { ProcessingOutcome, PushProcessor } from './push-processor.js';

export interface SweepResult {
  /** Rows whose next attempt was due. */
  due: number;
  /** Rows another sweeper or request claimed first. */
  skipped: number;
  outcomes: Record<ProcessingOutcome, number>;
}

export interface InboxSweeperOptions {
  inbox: InboxStore;
  processor: PushProcessor;
  clock: Clock;
  logger: Logger;
  /**
   * Attempt n+1 is due `backoffMs * (2^n - 1)` after receipt; default 30 s, which also leaves the
   * request that stored a push time to finish attempt 1 before a sweeper could take it over.
   */
  backoffMs?: number;
  /** Rows per sweep; default 100. */
  batchSize?: number;
  /** For `start()`; default 15 s. */
  intervalMs?: number;
}

/**
 * Recovery for pushes stored but not processed: processing threw, or the process stopped
 * between the reply and the effect. Bounded by the processor's maxAttempts; rows past it stay
 * in the inbox with their last error for support to read.
 */
export class InboxSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepResult> | undefined;
  /** Set by stop(): a pass in progress ends after the row it is on. */
  private stopping = false;
  private readonly backoffMs: number;
  private readonly batchSize: number;
  private readonly intervalMs: number;

  constructor(private readonly options: InboxSweeperOptions) {
    this.backoffMs = options.backoffMs ?? 30_000;
    this.batchSize = options.batchSize ?? 100;
    this.intervalMs = options.intervalMs ?? 15_000;
  }

  /** One pass; concurrent calls share the pass in progress. */
  sweepInbox(): Promise<SweepResult> {
    this.running ??= this.sweep().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  start(): void {
    if (this.timer) return;
    this.stopping = false;
    this.timer = setInterval(() => {
      this.sweepInbox().catch((err: unknown) => this.options.logger.error({ err }, 'webhook inbox sweep failed'));
    }, this.intervalMs);
    this.timer.unref();
  }

  /**
   * Stops the interval and ends a pass in progress after the row it is on: a shutdown does not wait
   * for a backlog's batch. The rows it did not reach stay due in the inbox for the next sweep.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }

  private async sweep(): Promise<SweepResult> {
    const { inbox, processor } = this.options;
    const rows = await inbox.due({
      now: new Date(this.options.clock.now()),
      maxAttempts: processor.maxAttempts,
      backoffMs: this.backoffMs,
      limit: this.batchSize,
    });
    const result: SweepResult = { due: rows.length, skipped: 0, outcomes: { processed: 0, ignored: 0, failed: 0, gave_up: 0 } };
    // One at a time: a backlog is drained without taking the pool from live pushes.
    for (const row of rows) {
      if (this.stopping) break;
      const claimed = await inbox.claim(row);
      if (!claimed) {
        result.skipped++;
        continue;
      }
      result.outcomes[await processor.run(claimed)]++;
    }
    if (rows.length > 0) this.options.logger.info({ ...result }, 'webhook inbox sweep');
    return result;
  }
}
