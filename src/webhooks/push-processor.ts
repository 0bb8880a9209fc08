import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { isAppId } from '../services/app-id.js';
import { systemContext, type TenantContext } from '../services/context.js';
import { assertNever } from '../services/errors.js';
import type { InboxRow, InboxStore } from './inbox.store.js';
import type { AuthorizedPush, LiveApplyEventPush, UnauthorizedPush } from '../wechat/wire/push-xml.js';
import { parseMessage, type WechatPush } from './xml/events.js';
import { withLogContext } from '../lib/log-context.js';
import { inSpan } from '../lib/tracing.js';

/** What an `authorized` push's AuthorizationCode is exchanged for (api_query_auth). */
export interface AuthorizationGrant {
  appId: string;
  refreshToken: string;
  /** func_info permission set ids; live needs 52. */
  permissionSets: number[];
}

export type ExchangeAuthorizationCode = (tenantId: string, authorizationCode: string) => Promise<AuthorizationGrant>;

/**
 * The domain calls pushes lead to; narrow so the composition root wires services in one place.
 * Each takes the push's system context (its tenant, and the inbox row as request id) first.
 */
export interface PushEffects {
  saveTicket(ctx: TenantContext, ticket: string): Promise<void>;
  exchangeAuthorizationCode: ExchangeAuthorizationCode;
  upsertAuthorized(ctx: TenantContext, grant: AuthorizationGrant): Promise<unknown>;
  revoke(ctx: TenantContext, appId: string): Promise<unknown>;
  /** Cancels the merchant's QUEUED applications; returns them so their jobs can be removed. */
  cancelForRevoked(ctx: TenantContext, appId: string): Promise<readonly { id: string }[]>;
  /** Optional: the worker skips non-QUEUED rows anyway, this only spares it the lookup. */
  removeJob?(applicationId: string): Promise<unknown>;
  /**
   * Opens the merchant's pending application (or records an OPENED one); false when nothing
   * changed: the merchant was open already with nothing pending (a repeated event).
   */
  opened(ctx: TenantContext, appId: string, openedAt: Date): Promise<boolean>;
}

/** `ignored`: an authentic push with nothing to do (stale ticket, not an app id); recorded as processed. */
export type ProcessResult = { status: 'processed' } | { status: 'ignored'; note: string };

export type ProcessingOutcome = 'processed' | 'ignored' | 'failed' | 'gave_up';

export type OnProcessed = (outcome: ProcessingOutcome, eventType: string) => void;

export interface PushProcessorDeps {
  inbox: InboxStore;
  effects: PushEffects;
  clock: Clock;
  logger: Logger;
  /** Processing attempts per push, the first (in the request) included; default 8. */
  maxAttempts?: number;
  onProcessed?: OnProcessed;
}

export const DEFAULT_MAX_ATTEMPTS = 8;

/**
 * Applies one stored push. Effects are at-least-once: they are committed before the row is
 * marked processed, so a crash in between repeats them; each is safe to repeat (guarded
 * transitions, upserts; an open event for a merchant already open with nothing pending is
 * ignored), except two open events of one merchant processed at the same instant.
 */
export class PushProcessor {
  readonly maxAttempts: number;

  constructor(private readonly deps: PushProcessorDeps) {
    this.maxAttempts = deps.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  }

  /**
   * Runs the attempt the caller has claimed (`row.attempts` counts it) and records its result; never throws.
   * `parsed`: the push as the request that stored it parsed it (`row.payload`), so it is not parsed twice.
   */
  run(row: InboxRow, parsed?: WechatPush): Promise<ProcessingOutcome> {
    // The tenant on every line of the push's effects, the WeChat calls they make included.
    return inSpan('webhook process', { attributes: { 'wxlive.tenant_id': row.tenantId, 'wxlive.inbox_id': row.id, 'wxlive.event_type': row.eventType } }, () =>
      withLogContext({ tenantId: row.tenantId }, () => this.attempt(row, parsed)),
    );
  }

  private async attempt(row: InboxRow, parsed: WechatPush | undefined): Promise<ProcessingOutcome> {
    // The push's fields on each line it logs, not a child logger per push (a pino child costs
    // about as much as serializing its bindings, on every push, logged or not).
    const log = this.deps.logger;
    const fields = { inboxId: row.id, eventType: row.eventType, attempt: row.attempts };
    let outcome: ProcessingOutcome;
    try {
      const result = await this.apply(row, parsed);
      const note = result.status === 'ignored' ? `ignored: ${result.note}` : null;
      await this.deps.inbox.markProcessed(row, new Date(this.deps.clock.now()), note);
      outcome = result.status;
      if (note !== null) log.info({ ...fields, note }, 'webhook push ignored');
      else if (log.isLevelEnabled('debug')) log.debug(fields, 'webhook push processed');
    } catch (err) {
      outcome = row.attempts >= this.maxAttempts ? 'gave_up' : 'failed';
      const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      await this.deps.inbox.markFailed(row, message).catch((markErr: unknown) => log.error({ ...fields, err: markErr }, 'recording a webhook failure failed'));
      if (outcome === 'gave_up') log.error({ ...fields, err }, 'webhook push failed on its last attempt; left unprocessed in the inbox');
      else log.warn({ ...fields, err }, 'webhook push failed; the inbox sweeper retries it');
    }
    this.deps.onProcessed?.(outcome, row.eventType);
    return outcome;
  }

  /** The effect of one push; throws when it failed and should be retried. */
  async apply(row: InboxRow, parsed?: WechatPush): Promise<ProcessResult> {
    // Pushes of types nothing acts on are stored without their plaintext (and as processed already).
    if (row.payload === null) return { status: 'ignored', note: `no handler for ${row.eventType}` };
    const push = parsed ?? parseMessage(row.payload);
    const { effects } = this.deps;
    const ctx = systemContext(row.tenantId, `inbox:${row.id}`);
    switch (push.kind) {
      case 'component_verify_ticket':
        // A retried ticket may be older than one saved since; the newest one is the valid one.
        if (row.attempts > 1 && (await this.deps.inbox.newerTicketProcessed(row))) {
          return { status: 'ignored', note: 'a newer component_verify_ticket was saved already' };
        }
        await effects.saveTicket(ctx, push.ticket);
        return { status: 'processed' };
      case 'authorized':
      case 'updateauthorized':
        return this.authorized(ctx, row, push);
      case 'unauthorized':
        return this.unauthorized(ctx, push);
      case 'wxa_live_apply_event':
        return this.opened(ctx, row, push);
      case 'unknown':
        return { status: 'ignored', note: `no handler for ${row.eventType}` };
      default:
        return assertNever(push);
    }
  }

  private async authorized(ctx: TenantContext, row: InboxRow, push: AuthorizedPush): Promise<ProcessResult> {
    const grant = await this.deps.effects.exchangeAuthorizationCode(row.tenantId, push.authorizationCode);
    if (grant.appId !== push.authorizerAppId) {
      // api_query_auth answers for the code itself; its app id is the one the refresh token belongs to.
      this.deps.logger.warn(
        { tenantId: row.tenantId, pushAppId: push.authorizerAppId, grantAppId: grant.appId },
        'authorization code belongs to another app id',
      );
    }
    await this.deps.effects.upsertAuthorized(ctx, grant);
    return { status: 'processed' };
  }

  private async unauthorized(ctx: TenantContext, push: UnauthorizedPush): Promise<ProcessResult> {
    const { effects } = this.deps;
    await effects.revoke(ctx, push.authorizerAppId);
    const cancelled = await effects.cancelForRevoked(ctx, push.authorizerAppId);
    if (effects.removeJob) {
      for (const application of cancelled) {
        await effects
          .removeJob(application.id)
          .catch((err: unknown) => this.deps.logger.warn({ err, applicationId: application.id }, 'removing a cancelled job failed'));
      }
    }
    return { status: 'processed' };
  }

  private async opened(ctx: TenantContext, row: InboxRow, push: LiveApplyEventPush): Promise<ProcessResult> {
    // The inner appid names the merchant that opened; the URL's app id is not signed (see docs/webhooks.md).
    if (!isAppId(push.appid)) return { status: 'ignored', note: `appid "${push.appid.slice(0, 64)}" is not a Mini Program app id` };
    const openedAt = unixTime(push.openTime) ?? unixTime(push.createTime) ?? row.receivedAt;
    // A repeat (another accepted call's event) changes nothing rather than record a second OPENED application.
    if (!(await this.deps.effects.opened(ctx, push.appid, openedAt))) return { status: 'ignored', note: `${push.appid} is open already, nothing pending` };
    return { status: 'processed' };
  }
}

/** WeChat writes unix seconds as decimal strings; anything else (the doc's placeholder text) is no time. */
export function unixTime(value: string): Date | undefined {
  if (!/^[0-9]{9,11}$/.test(value)) return undefined;
  return new Date(Number(value) * 1000);
}
