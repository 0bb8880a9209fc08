import { and, eq, inArray, isNotNull } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import type { Db } from '../../../src/db/client.js';
import { liveApplicationEvents, type WebhookEndpointKind, webhookDeliveries, webhookInbox } from '../../../src/db/tables.js';
import { systemContext } from '../../../src/services/context.js';
import type { WebhookEndpointsService } from '../../../src/services/webhooks/endpoints.service.js';
import type { LedgerPush } from '../../support/ledger.js';
import type { Received, Receiver } from '../../webhooks/outbound/support/receiver.js';
import { verifyAndDecrypt } from '../../webhooks/outbound/support/wechat-verifier.js';
import { expectEventually } from '../../support/test-env.js';

/** A tenant as the webhook ledger knows it: its WeChat crypto (to open relayed pushes) and merchants. */
export interface LedgerTenant {
  tenantId: string;
  componentAppId: string;
  appIds: readonly string[];
  input: { token: string; encodingAesKey: string };
}

interface LedgerEndpoint {
  id: string;
  tenant: LedgerTenant;
  kind: WebhookEndpointKind;
  /** The receiver's path for it: every request there is this endpoint's. */
  path: string;
  secret: string;
  createdAt: number;
}

export interface WebhookLedgerFigures {
  /** Stored pushes × matching RELAY endpoints, and how many of those reached the receiver. */
  relaysExpected: number;
  relaysReceived: number;
  /** Committed changes × matching EVENTS endpoints, and how many reached the receiver. */
  eventsExpected: number;
  eventsReceived: number;
  /** Requests the receiver got whose webhook-id it had already seen (at-least-once). */
  duplicates: number;
  /**
   * Acknowledged pushes the gateway answered as repeats of a stored one (x-wxlive-outcome
   * `duplicate`: the same de-duplication key), not stored, so not relayed themselves.
   */
  pushDuplicates: number;
}

export interface WebhookLedgerReport {
  ok: boolean;
  problems: string[];
  figures: WebhookLedgerFigures;
}

type AppEvent = { type: string; data: { id: string; appId: string; status: string } };

/**
 * The outbound side of the ledger, from Postgres and what a loopback receiver got (never from
 * the delivery log it checks): every push stored for a tenant reached each of its RELAY
 * endpoints at least once, verbatim; every committed change of its applications (each
 * status-bearing history row, written in the change's statement) reached each of its EVENTS
 * endpoints at least once, signed with that endpoint's secret; and nothing any endpoint got
 * belongs to another tenant. Endpoints see what was stored or committed after their creation.
 */
export class WebhookLedger {
  private readonly endpoints: LedgerEndpoint[] = [];
  /** Each event request verified once (Standard Webhooks refuses a timestamp over 5 minutes old: a long run verifies as it goes). */
  private readonly verified = new Map<Received, AppEvent | Error>();

  /**
   * `sent`: what WeChat sent (PushRelay's records), to check the relay against instead of the
   * inbox, for runs long enough for retention to drop relayed envelopes (a soak).
   */
  constructor(
    private readonly db: Db,
    private readonly receiver: Receiver,
    private readonly sent?: readonly LedgerPush[],
  ) {}

  /**
   * Registers a RELAY or EVENTS endpoint (no filter) for the tenant, at `/<tenant id>/<kind>` on
   * the receiver, through the endpoints service of an app in this process or over its database.
   */
  async endpoint(endpoints: Pick<WebhookEndpointsService, 'create'>, tenant: LedgerTenant, kind: WebhookEndpointKind): Promise<string> {
    const path = `/${tenant.tenantId}/${kind.toLowerCase()}`;
    const createdAt = Date.now();
    const created = await endpoints.create(systemContext(tenant.tenantId), { url: `${this.receiver.url}${path}`, kind, events: null });
    if (!created.endpoint || !created.secret) throw new Error(`endpoint not created: ${JSON.stringify(created.userErrors)}`);
    this.endpoints.push({ id: created.endpoint.id, tenant, kind, path, secret: created.secret, createdAt });
    return path;
  }

  get paths(): string[] {
    return this.endpoints.map((e) => e.path);
  }

  /** How many committed changes of the ledger's tenants reached each status. */
  async committedByStatus(): Promise<Record<string, number>> {
    const tenantIds = [...new Set(this.endpoints.map((e) => e.tenant.tenantId))];
    const rows = await this.db
      .select({ status: liveApplicationEvents.status })
      .from(liveApplicationEvents)
      .where(and(inArray(liveApplicationEvents.tenantId, tenantIds), isNotNull(liveApplicationEvents.status)));
    const counts: Record<string, number> = {};
    for (const r of rows) counts[String(r.status)] = (counts[String(r.status)] ?? 0) + 1;
    return counts;
  }

  /** The delivery rows of the ledger's endpoints (for what a test asserts beyond the ledger). */
  deliveries() {
    return this.db
      .select()
      .from(webhookDeliveries)
      .where(
        inArray(
          webhookDeliveries.endpointId,
          this.endpoints.map((e) => e.id),
        ),
      );
  }

  async check(): Promise<WebhookLedgerReport> {
    const problems: string[] = [];
    const figures: WebhookLedgerFigures = { relaysExpected: 0, relaysReceived: 0, eventsExpected: 0, eventsReceived: 0, duplicates: 0, pushDuplicates: 0 };
    const known = new Set(this.paths);
    for (const r of this.receiver.received) if (!known.has(r.path)) problems.push(`a request to ${r.path}, which is no endpoint's`);
    const seen = new Set<string>();
    for (const r of this.receiver.received) {
      const id = String(r.headers['webhook-id']);
      if (seen.has(id)) figures.duplicates += 1;
      seen.add(id);
    }
    for (const e of this.endpoints) {
      const got = this.receiver.at(e.path);
      if (e.kind === 'RELAY') await this.checkRelay(e, got, problems, figures);
      else await this.checkEvents(e, got, problems, figures);
    }
    return { ok: problems.length === 0, problems, figures };
  }

  /** Waits until the ledger balances; throws its problems, one a line, otherwise. */
  async expectBalanced({ timeoutMs = 30_000 } = {}): Promise<WebhookLedgerReport> {
    let last: WebhookLedgerReport | undefined;
    try {
      return await expectEventually(
        async () => {
          last = await this.check();
          if (!last.ok) throw new Error('unbalanced');
          return last;
        },
        { timeoutMs, intervalMs: 250 },
      );
    } catch {
      throw new Error(`the webhook ledger does not balance:\n  ${(last?.problems ?? []).slice(0, 30).join('\n  ')}\n${JSON.stringify(last?.figures)}`);
    }
  }

  /** Verifies what the EVENTS endpoints received so far; a long run calls it now and then. */
  verifyArrived(): void {
    for (const e of this.endpoints) if (e.kind === 'EVENTS') for (const r of this.receiver.at(e.path)) this.verify(e, r);
  }

  private verify(e: LedgerEndpoint, r: Received): AppEvent | Error {
    let result = this.verified.get(r);
    if (result === undefined) {
      try {
        result = new Webhook(e.secret).verify(r.body.toString('utf8'), r.headers as Record<string, string>) as AppEvent;
      } catch (err) {
        result = err instanceof Error ? err : new Error(String(err));
      }
      this.verified.set(r, result);
    }
    return result;
  }

  private async checkRelay(e: LedgerEndpoint, got: Received[], problems: string[], figures: WebhookLedgerFigures) {
    // Nothing of another tenant: each request opens with this tenant's token and key, addressed to its component.
    for (const r of got) {
      try {
        const { receiveId } = verifyAndDecrypt(e.tenant.input, r.target, r.body.toString('utf8'));
        if (receiveId !== e.tenant.componentAppId) problems.push(`relay ${e.path}: a push for ${receiveId}, not this tenant's ${e.tenant.componentAppId}`);
      } catch (err) {
        problems.push(`relay ${e.path}: a request that is not this tenant's push (${err instanceof Error ? err.message : String(err)})`);
      }
    }
    // Indexed by request target: a soak's ledger holds tens of thousands of pushes.
    const byTarget = new Map<string, Received[]>();
    for (const r of got) {
      const list = byTarget.get(r.target);
      if (list) list.push(r);
      else byTarget.set(r.target, [r]);
    }
    const arrived = (query: string, body: Buffer | null) => body !== null && (byTarget.get(`${e.path}?${query}`) ?? []).some((r) => r.body.equals(body));
    if (this.sent) {
      // Every push the gateway acknowledged (it is stored then) reached the endpoint as WeChat sent it.
      for (const push of this.sent) {
        if (push.tenantId !== e.tenant.tenantId || push.atMs < e.createdAt || push.status !== 200 || push.body !== 'success' || !push.sent) continue;
        // Answered as a repeat at its first delivery: another push with its key is stored (and checked).
        // A repeat after a redelivery is this push itself, stored by an earlier delivery: checked.
        if (push.outcome === 'duplicate' && (push.deliveries ?? 1) === 1) {
          figures.pushDuplicates += 1;
          continue;
        }
        figures.relaysExpected += 1;
        if (arrived(push.sent.query, push.sent.body)) figures.relaysReceived += 1;
        else
          problems.push(`relay ${e.path}: acknowledged push ${push.kind} ${push.appId ?? ''} at ${new Date(push.atMs).toISOString()} never arrived verbatim`);
      }
      return;
    }
    const stored = await this.db
      .select({
        id: webhookInbox.id,
        eventType: webhookInbox.eventType,
        rawQuery: webhookInbox.rawQuery,
        rawBody: webhookInbox.rawBody,
        receivedAt: webhookInbox.receivedAt,
      })
      .from(webhookInbox)
      .where(eq(webhookInbox.tenantId, e.tenant.tenantId));
    for (const push of stored) {
      if (push.receivedAt.getTime() < e.createdAt) continue;
      figures.relaysExpected += 1;
      if (arrived(push.rawQuery ?? '', push.rawBody)) figures.relaysReceived += 1;
      else problems.push(`relay ${e.path}: stored push ${push.id} (${push.eventType}) never arrived verbatim`);
    }
  }

  private async checkEvents(e: LedgerEndpoint, got: Received[], problems: string[], figures: WebhookLedgerFigures) {
    const events: { id: string; event: AppEvent }[] = [];
    for (const r of got) {
      const event = this.verify(e, r);
      if (event instanceof Error) {
        problems.push(`events ${e.path}: a request that does not verify with this endpoint's secret (${event.message})`);
        continue;
      }
      if (event.type === 'application.updated' && !e.tenant.appIds.includes(event.data.appId))
        problems.push(`events ${e.path}: an application of ${event.data.appId}, not a merchant of this tenant`);
      events.push({ id: String(r.headers['webhook-id']), event });
    }
    // Distinct deliveries (webhook-ids) per application and status, against the committed changes.
    const delivered = new Map<string, Set<string>>();
    for (const { id, event } of events) {
      if (event.type !== 'application.updated') continue;
      const key = `${event.data.id}/${event.data.status}`;
      delivered.set(key, (delivered.get(key) ?? new Set()).add(id));
    }
    const committed = await this.db
      .select({ applicationId: liveApplicationEvents.applicationId, status: liveApplicationEvents.status, createdAt: liveApplicationEvents.createdAt })
      .from(liveApplicationEvents)
      .where(and(eq(liveApplicationEvents.tenantId, e.tenant.tenantId), isNotNull(liveApplicationEvents.status)));
    const expected = new Map<string, number>();
    for (const c of committed) {
      if (c.createdAt.getTime() < e.createdAt) continue;
      const key = `${c.applicationId}/${c.status}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    for (const [key, n] of expected) {
      figures.eventsExpected += n;
      const m = Math.min(n, delivered.get(key)?.size ?? 0);
      figures.eventsReceived += m;
      if (m < n) problems.push(`events ${e.path}: ${n - m} of ${n} committed change(s) ${key} never delivered`);
    }
  }
}
