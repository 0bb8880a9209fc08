import type { Logger } from '../lib/logger.js';
import type { TenantContext } from '../services/context.js';

type Waiter<T> = (result: IteratorResult<T>) => void;

/** A subscriber of one process (ChangeSubscriber, LiveEventSubscriber): live items per tenant, and the gaps in them. */
interface TenantSubscriber<T> {
  listen(tenantId: string, listener: (item: T) => void): () => void;
  onGap(tenantId: string, listener: (sinceMs: number) => void, onLost?: (atMs: number) => void): () => void;
}

/** A feed source's `listen`: the tenant's live items and, when asked, its gaps (when they end, and when they began); one call undoes all. */
export function listenWithGaps<T>(
  subscriber: TenantSubscriber<T>,
  tenantId: string,
  listener: (item: T) => void,
  onGap?: (sinceMs: number) => void,
  onLost?: (atMs: number) => void,
): () => void {
  const unlisten = subscriber.listen(tenantId, listener);
  const unGap = onGap ? subscriber.onGap(tenantId, onGap, onLost) : undefined;
  return () => {
    unlisten();
    unGap?.();
  };
}

/**
 * The protocol both subscription feeds share (application-feed.ts, live-room-feed.ts): listen
 * first, replay from a cursor while holding live items, then go live; a gap in the live feed (its
 * connection was lost) replays again from the last item delivered before the loss, holding live
 * items from the loss on (a loss during a replay: from where that replay ended);
 * a subscriber too far behind is closed and its next read fails. A subclass says how its items
 * wait (pending and held), what one replay page does, and what the too-slow error says.
 */
export abstract class ReplayingSubscription<T, From> implements AsyncIterableIterator<T> {
  /** Where the next replay page starts; undefined once live. */
  protected replayFrom: From | undefined;
  protected state: 'open' | 'overflowed' | 'closed' = 'open';
  private waiter: Waiter<T> | undefined;
  /** The page being read: next() and a gap's catch-up never read two at once. */
  private replaying: Promise<void> | undefined;
  /**
   * Where the replay of a gap starts, taken when the connection was lost: live items heard after
   * the reconnect but before the gap is reported are held, so they cannot move the start past
   * what was missed. Undefined when no gap is open (or one began during a replay).
   */
  private lossFrom: From | undefined;
  /** The connection was lost while a replay ran: it must not go live at its end (see caughtUp). */
  private lostWhileReplaying = false;
  /** ...and the gap has been reported since: the replay goes on from its end instead. */
  private gapWhileReplaying = false;
  private unlisten: () => void = () => undefined;

  protected constructor(
    protected readonly ctx: TenantContext,
    protected readonly maxPending: number,
    protected readonly logger: Logger | undefined,
    /** Names the subscription in its log lines: '' ("a subscriber"), 'live room ' ("a live room subscriber"). */
    private readonly kind: string,
  ) {}

  /** The subclass's constructor calls this last, once its own state is set. */
  protected listen(subscribe: (onItem: (item: T) => void, onGap: (sinceMs: number) => void, onLost: (atMs: number) => void) => () => void): void {
    this.unlisten = subscribe(
      (item) => this.onLive(item),
      (sinceMs) => this.onGap(sinceMs),
      (atMs) => this.onLost(atMs),
    );
  }

  /** The next waiting item, taken out; undefined when none waits. */
  protected abstract takePending(): T | undefined;
  /** Reads one page from `from`, enqueues what matches, and sets `replayFrom` to where the next page starts, or to undefined (then releases what was held). */
  protected abstract replayPage(from: From): Promise<void>;
  /** Where a gap's replay starts: after the last item delivered, or from a little before the gap began. */
  protected abstract gapStart(sinceMs: number): From;
  /** A replay begins: live items are held from now on. */
  protected abstract hold(): void;
  protected abstract onLive(item: T): void;
  protected abstract tooSlow(): Error;
  /** Drops everything waiting and held. */
  protected abstract clear(): void;

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  async next(): Promise<IteratorResult<T>> {
    for (;;) {
      if (this.state === 'overflowed') {
        this.state = 'closed';
        throw this.tooSlow();
      }
      if (this.state === 'closed') return { value: undefined, done: true };
      const first = this.takePending();
      if (first !== undefined) return { value: first, done: false };
      if (this.replayFrom === undefined) return new Promise<IteratorResult<T>>((resolve) => (this.waiter = resolve));
      await this.replayOnce();
    }
  }

  return(): Promise<IteratorResult<T>> {
    this.close('closed');
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.close('closed');
    return Promise.reject(error);
  }

  /** Gives `item` to a reader waiting for it; false when none waits (the subclass queues it). */
  protected handToReader(item: T): boolean {
    const waiter = this.waiter;
    if (!waiter) return false;
    this.waiter = undefined;
    waiter({ value: item, done: false });
    return true;
  }

  protected overflow(): void {
    this.logger?.warn(
      { tenantId: this.ctx.tenantId, requestId: this.ctx.requestId, maxPending: this.maxPending },
      `closing a ${this.kind}subscriber that fell behind`,
    );
    this.close('overflowed');
  }

  private replayOnce(): Promise<void> {
    const from = this.replayFrom;
    if (from === undefined) return Promise.resolve();
    this.replaying ??= this.replayPage(from).finally(() => {
      this.replaying = undefined;
    });
    return this.replaying;
  }

  /**
   * A replay has read everything up to `end` and would go live, releasing what it held. True: go
   * live. False: the connection was lost while it ran, so what was added after its last read may
   * never be heard; it keeps holding, and replays on from `end` (now, if the gap was reported
   * meanwhile, else when it is).
   */
  protected caughtUp(end: From): boolean {
    if (!this.lostWhileReplaying) return true;
    this.lostWhileReplaying = false;
    if (this.gapWhileReplaying) {
      this.gapWhileReplaying = false;
      this.replayFrom = end;
    } else {
      this.replayFrom = undefined;
      this.lossFrom = end;
    }
    return false;
  }

  /** The connection is lost: the gap's replay will start from here, and live items are held from now on. */
  private onLost(atMs: number): void {
    if (this.state !== 'open' || this.lossFrom !== undefined) return;
    if (this.replayFrom !== undefined) {
      this.lostWhileReplaying = true;
      this.gapWhileReplaying = false;
      return;
    }
    this.lossFrom = this.gapStart(atMs);
    this.hold();
  }

  /** Live items were missed: replay from where delivery stood when the connection was lost, holding live ones meanwhile, as a subscription with `after` starts. */
  private onGap(sinceMs: number): void {
    if (this.state !== 'open') return;
    if (this.replayFrom !== undefined) {
      // The running replay goes on past its end if the loss came while it ran (caughtUp).
      if (this.lostWhileReplaying) this.gapWhileReplaying = true;
      return;
    }
    const from = this.lossFrom;
    this.lossFrom = undefined;
    this.replayFrom = from ?? this.gapStart(sinceMs);
    if (from === undefined) this.hold();
    // A reader waiting for the next item gets the replayed ones as they are read.
    if (this.waiter) void this.catchUp();
  }

  private async catchUp(): Promise<void> {
    try {
      while (this.state === 'open' && this.replayFrom !== undefined) await this.replayOnce();
    } catch (err) {
      // The kept items are out of reach too: try again shortly (a reader that is not waiting retries on its next read).
      this.logger?.warn({ err, tenantId: this.ctx.tenantId }, `replaying a ${this.kind}subscription gap failed; retrying`);
      if (this.state === 'open') setTimeout(() => (this.waiter ? void this.catchUp() : undefined), 1_000).unref();
    }
  }

  private close(state: 'overflowed' | 'closed'): void {
    if (this.state === 'closed') return;
    this.state = state;
    this.unlisten();
    this.clear();
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.({ value: undefined, done: true });
  }
}
