import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { systemContext } from '../services/context.js';
import { decide } from '../services/webhooks/delivery-schedule.js';
import type { ClaimedDelivery, DeliveryStore } from '../services/webhooks/delivery.store.js';
import { signedHeaders } from '../services/webhooks/signing.js';
import type { WebhookJobData, WebhookQueue } from './webhook-queue.js';
import type { OutboundRequest, Send, SendResult } from './webhook-sender.js';

export type DeliveryOutcome = 'delivered' | 'retry' | 'failed' | 'gone' | 'skipped';

export interface DeliveryJobDeps {
  store: DeliveryStore;
  queue: Pick<WebhookQueue, 'enqueue'>;
  send: Send;
  clock: Clock;
  logger: Logger;
  /** How long a claimed attempt is held before it is due again (its worker died): the timeout and a margin. */
  leaseMs: number;
  random?: () => number;
  onAttempt?: (attempt: { outcome: DeliveryOutcome; kind: string; latencyMs: number }) => void;
}

/** What goes on the wire: the signed Standard Webhooks headers on both kinds; RELAY keeps WeChat's query, body and content type. */
export function outboundRequest(claimed: ClaimedDelivery, atMs: number): OutboundRequest {
  const headers: Record<string, string> = { ...signedHeaders(claimed.id, atMs, claimed.body, claimed.endpoint.secrets), 'content-type': claimed.contentType };
  let url = claimed.endpoint.url;
  if (claimed.relayQuery !== null && claimed.relayQuery !== '') {
    const hash = url.indexOf('#');
    if (hash >= 0) url = url.slice(0, hash);
    url += `${url.includes('?') ? '&' : '?'}${claimed.relayQuery}`;
  }
  return { url, headers, body: claimed.body };
}

/**
 * One attempt of one delivery: claim it (nothing to do if it is not due, done, held by a
 * running attempt, or its endpoint is disabled), send, record the attempt and its consequence in one transaction, and
 * enqueue the next attempt when there is one. A crash between send and record sends it again
 * when the lease ends (at-least-once; the receiver de-duplicates by webhook-id).
 */
export async function runDeliveryJob(data: WebhookJobData, deps: DeliveryJobDeps): Promise<DeliveryOutcome> {
  const ctx = systemContext(data.tenantId);
  const claimed = await deps.store.claim(ctx, data.deliveryId, deps.clock.now(), deps.leaseMs);
  // Nothing to send: not due, done, held by a running attempt, or its endpoint disabled (then FAILED unsent).
  if (!claimed) return 'skipped';
  let result: SendResult;
  try {
    result = await deps.send(outboundRequest(claimed, deps.clock.now()));
  } catch (err) {
    result = { statusCode: null, error: err instanceof Error ? err.message : String(err), retryAfterMs: null, response: null, latencyMs: 0 };
  }
  const decision = decide(result, claimed.attempts + 1, deps.random);
  const recorded = await deps.store.record(ctx, claimed, result, decision, deps.clock.now());
  const outcome: DeliveryOutcome =
    decision.action === 'delivered' ? 'delivered' : decision.action === 'gone' ? 'gone' : recorded.status === 'PENDING' ? 'retry' : 'failed';
  deps.onAttempt?.({ outcome, kind: claimed.endpoint.kind, latencyMs: result.latencyMs });
  const log = {
    deliveryId: claimed.id,
    endpointId: claimed.endpointId,
    attempt: claimed.attempts + 1,
    statusCode: result.statusCode,
    latencyMs: result.latencyMs,
  };
  if (recorded.disabled) deps.logger.warn({ ...log, reason: recorded.disabled }, 'webhook endpoint disabled');
  if (outcome === 'failed') deps.logger.warn({ ...log, error: result.error }, 'webhook delivery failed for good');
  else if (outcome === 'retry')
    deps.logger.info({ ...log, error: result.error, nextAttemptAt: recorded.nextAttemptAt }, 'webhook delivery attempt failed; retrying');
  if (recorded.status === 'PENDING' && recorded.nextAttemptAt !== null) {
    await deps.queue.enqueue([{ tenantId: claimed.tenantId, deliveryId: claimed.id, endpointId: claimed.endpointId, dueAt: recorded.nextAttemptAt }]);
  }
  return outcome;
}
