import type { Clock } from '../lib/clock.js';
import { type LogContext, logContext, withOwnLogContext } from '../lib/log-context.js';
import { activeTraceContext, type TraceContext, withTraceContext } from '../lib/tracing.js';
import type { WebhookDeliveryQueue } from '../services/webhooks/deliveries.service.js';
import type { DueDelivery } from '../services/webhooks/event-fan-out.js';
import type { InboxKind, InboxRow, InboxStore } from './inbox.store.js';
import type { PushProcessor } from './push-processor.js';
import { pushIdentity, type VerifiedPush } from './push-verifier.js';
import type { ReplayGuard } from './replay-guard.js';
import { type PushKindLabel, WebhookRejection } from './webhook-outcome.js';
import { pushedOn, type WechatPush } from './xml/events.js';

export interface IntakeDeps {
  inbox: InboxStore;
  /** Where relayed pushes' deliveries are enqueued after the answer (a lost enqueue is repaired by the delivery sweep). */
  relayQueue?: WebhookDeliveryQueue;
  onRelayEnqueueFailed?: (err: unknown) => void;
  processor: PushProcessor;
  replayGuard: ReplayGuard;
  clock: Clock;
  /**
   * Pushes processed at once after their answers; default 4. Processing shares the Postgres pool
   * with the inserts that answer WeChat, so it is bounded to keep storing fast in a burst.
   */
  processingConcurrency?: number;
  /** Answered pushes waiting for processing; past this, the inbox sweeper takes them. Default 10,000. */
  maxQueuedProcessing?: number;
}

export interface IntakeInput {
  tenantId: string;
  kind: InboxKind;
  pathAppId: string | undefined;
  verified: VerifiedPush;
  /** The request as it came (a RELAY endpoint receives it verbatim). */
  envelope: PushEnvelope;
}

export interface PushEnvelope {
  /** The query string without `?`, as sent. */
  query: string;
  body: Buffer;
  contentType: string | null;
}

export interface IntakeResult {
  outcome: 'accepted' | 'duplicate' | 'replayed';
  /** The new inbox row; undefined when nothing was inserted. */
  inboxId: number | undefined;
  kind: PushKindLabel;
}

/**
 * Stores a verified push and, once the caller has answered WeChat, processes it. The answer never
 * waits for processing: `authorized` calls WeChat (seconds), and WeChat gives up after 5 s.
 */
export class PushIntake {
  private readonly inFlight = new Set<Promise<unknown>>();
  /** With the log and trace context of the request that stored each, not of the push whose end starts it. */
  private readonly waiting: { row: InboxRow; push: WechatPush; context: LogContext; trace: TraceContext }[] = [];
  private running = 0;
  private readonly concurrency: number;
  private readonly maxQueued: number;

  constructor(private readonly deps: IntakeDeps) {
    this.concurrency = deps.processingConcurrency ?? 4;
    this.maxQueued = deps.maxQueuedProcessing ?? 10_000;
  }

  /**
   * Throws WebhookRejection('STORE_UNAVAILABLE') when the row could not be written: the caller
   * answers 503 and the replay mark is released, so WeChat's retry is stored rather than dropped.
   */
  async store(input: IntakeInput): Promise<{ result: IntakeResult; process: () => void }> {
    const { verified, tenantId } = input;
    const identity = pushIdentity(verified.push, verified.plaintext, input.pathAppId);
    const kind = verified.push.kind;
    const claim = await this.deps.replayGuard.claim(tenantId, verified.tuple);
    if (claim.state === 'stored') {
      return { result: { outcome: 'replayed', inboxId: undefined, kind }, process: noop };
    }
    const hasEffect = verified.push.kind !== 'unknown';
    const receivedAt = new Date(this.deps.clock.now());
    const row = {
      tenantId,
      pushedOn: pushedOn(verified.push, receivedAt.getTime()),
      kind: input.kind,
      appId: identity.appId,
      eventType: identity.eventType,
      dedupKey: identity.dedupKey,
      // Data minimisation: a push nothing here acts on (customer messages...) is not kept decrypted;
      // its encrypted envelope stays for the relay and is dropped once relayed (the retention job).
      payload: hasEffect ? verified.plaintext : null,
      rawQuery: input.envelope.query,
      rawBody: input.envelope.body,
      contentType: input.envelope.contentType,
      receivedAt,
    };
    let inserted: { id: number; relay: DueDelivery[] } | undefined;
    try {
      inserted = await this.deps.inbox.insert(row, hasEffect ? 'claimed' : 'processed');
    } catch (err) {
      await claim.release();
      throw new WebhookRejection('STORE_UNAVAILABLE', 'the webhook inbox insert failed', { cause: err });
    }
    // Not awaited: until it lands the mark reads `pending`, and a repeat then meets the inbox key.
    // The plaintext-mode tuple is marked stored in the same pipeline.
    void claim.confirm(verified.plainTuple);
    if (inserted === undefined) return { result: { outcome: 'duplicate', inboxId: undefined, kind }, process: noop };
    const { id, relay } = inserted;
    const stored: InboxRow = { ...row, id, attempts: hasEffect ? 1 : 0, processedAt: hasEffect ? null : row.receivedAt, lastError: null };
    const result: IntakeResult = { outcome: 'accepted', inboxId: id, kind };
    const forward = relay.length > 0 && this.deps.relayQueue ? () => this.enqueueRelay(relay) : noop;
    return {
      result,
      process: () => {
        forward();
        if (hasEffect) this.schedule(stored, verified.push);
      },
    };
  }

  /**
   * Forgets answered pushes still waiting for processing (shutdown): they are stored, and the
   * sweeper of any instance takes them after its backoff. Returns how many there were.
   */
  abandonWaiting(): number {
    return this.waiting.splice(0).length;
  }

  /** Waits until every answered push has been processed (tests, benchmarks). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** After the answer: the relay's deliveries are stored already; losing this enqueue only delays them to the sweep. */
  private enqueueRelay(relay: DueDelivery[]): void {
    const queued = this.deps.relayQueue?.enqueue(relay).catch((err: unknown) => this.deps.onRelayEnqueueFailed?.(err));
    if (!queued) return;
    this.inFlight.add(queued);
    void queued.finally(() => this.inFlight.delete(queued));
  }

  /** Rows neither run nor queued keep attempt 1 open; the sweeper takes them after its backoff. */
  /** `push`: parsed from `row.payload` at verification; processing reuses it instead of parsing the XML again. */
  private schedule(row: InboxRow, push: WechatPush): void {
    const context = { ...logContext() };
    const trace = activeTraceContext();
    if (this.running < this.concurrency) this.start(row, push, context, trace);
    else if (this.waiting.length < this.maxQueued) this.waiting.push({ row, push, context, trace });
  }

  private start(row: InboxRow, push: WechatPush, context: LogContext, trace: TraceContext): void {
    this.running++;
    // run() records failures itself and never rejects.
    const work = withTraceContext(trace, () => withOwnLogContext(context, () => this.deps.processor.run(row, push))).finally(() => {
      this.running--;
      const next = this.waiting.shift();
      if (next) this.start(next.row, next.push, next.context, next.trace);
    });
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }
}

function noop(): void {}
