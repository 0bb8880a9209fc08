import { and, count, desc, eq, gte, lt, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { authorizers, liveApiCalls } from '../../db/tables.js';
import { inTenant } from '../../db/tenant-scope.js';
import type { ApiQuotaLimiter, ApiQuotaUsage } from '../../jobs/api-quota.js';

export type { ApiQuotaUsage };
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { LIVE_ENDPOINTS, type LiveEndpoint, type LiveQuotaGroup } from '../../wechat/endpoints.js';
import { isWechatError, LIVE_ERRCODES, ruleOfErrcode, type WechatError } from '../../wechat/errors.js';
import type { LiveClient } from '../../wechat/live/live-client.js';
import { isAppId } from '../app-id.js';
import type { TenantContext } from '../context.js';
import { type ErrorCode, type UserError, userError } from '../errors.js';

/** How the services reach WeChat's live API for a merchant: a valid authorizer token, refreshed once on 40001. */
export interface LiveWechat {
  run<T>(tenantId: string, appId: string, call: (client: LiveClient, token: string) => Promise<T>): Promise<T>;
}

export type CallResult<T> = { ok: true; value: T } | { ok: false; error: UserError };

export interface LiveCallMeta {
  endpoint: LiveEndpoint;
  /** The GraphQL operation or job asking, for the audit trail. */
  operation: string;
  /** What is asked, as the audit trail shows it (no media bytes, no tokens). */
  request: Record<string, unknown>;
}

export interface LiveCallsDeps {
  db: Db;
  wechat: LiveWechat;
  quota: ApiQuotaLimiter;
  clock: Clock;
  logger: Logger;
}

export interface LiveApiCallView {
  id: string;
  appId: string;
  endpoint: string;
  quotaGroup: string;
  operation: string;
  apiKeyId: string | null;
  requestId: string | null;
  request: Record<string, unknown>;
  outcome: 'OK' | 'ERRCODE' | 'FAILED' | 'QUOTA_REFUSED';
  errcode: number | null;
  errmsg: string | null;
  latencyMs: number | null;
  createdAt: Date;
}

/** Errors raised before any HTTP call: the reservation goes back. */
const NEVER_SENT = new Set(['AUTHORIZER_UNKNOWN', 'COMPONENT_TICKET_MISSING', 'TOKEN_REFRESH_TIMEOUT']);

/**
 * Every live management call goes through here: the merchant checked (this tenant's, authorized,
 * live open), the quota group reserved before the call (45009 marks the day spent), WeChat's
 * refusals turned into user errors with the errcode and errmsg verbatim, and the call written to
 * the audit trail (who, which key, what, WeChat's answer, latency).
 */
export class LiveCalls {
  constructor(private readonly deps: LiveCallsDeps) {}

  /** The merchant may be served: an app id of this tenant's, authorized, with live open. */
  async checkMerchant(ctx: TenantContext, appId: string, field: string[] = ['appId']): Promise<UserError | null> {
    if (!isAppId(appId)) return userError('INVALID_APP_ID', `"${appId}" is not an app id.`, field);
    const [row] = await inTenant(this.deps.db, ctx.tenantId, (db) =>
      db
        .select({ status: authorizers.status, liveOpen: authorizers.liveOpen })
        .from(authorizers)
        .where(and(eq(authorizers.tenantId, ctx.tenantId), eq(authorizers.appId, appId))),
    );
    if (!row) return userError('NOT_FOUND', `No merchant ${appId} for this tenant.`, field);
    if (row.status === 'REVOKED') return userError('AUTHORIZER_REVOKED', undefined, field);
    if (!row.liveOpen) return userError('LIVE_NOT_OPEN', undefined, field);
    return null;
  }

  /** Reserve, call, record. Never throws for WeChat's answers or transport failures: those are values. */
  async call<T>(ctx: TenantContext, appId: string, meta: LiveCallMeta, run: (client: LiveClient, token: string) => Promise<T>): Promise<CallResult<T>> {
    const { quota, clock, wechat } = this.deps;
    const group: LiveQuotaGroup = LIVE_ENDPOINTS[meta.endpoint].group;
    const nowMs = clock.now();
    const reservation = await quota.reserve(ctx.tenantId, appId, group, nowMs);
    if (!reservation.ok) {
      await this.record(ctx, appId, meta, group, {
        outcome: 'QUOTA_REFUSED',
        errcode: null,
        errmsg: `${reservation.reason}: ${reservation.used}/${reservation.limit}`,
        latencyMs: null,
      });
      return {
        ok: false,
        error: userError(
          'API_QUOTA_REACHED',
          `${reservation.used} of ${reservation.limit} ${group} calls used today (resets ${new Date(reservation.resetsAt).toISOString()}).`,
        ),
      };
    }
    const started = performance.now();
    try {
      const value = await wechat.run(ctx.tenantId, appId, run);
      await this.record(ctx, appId, meta, group, { outcome: 'OK', errcode: 0, errmsg: 'ok', latencyMs: Math.round(performance.now() - started) });
      return { ok: true, value };
    } catch (error) {
      if (!isWechatError(error)) throw error;
      if (NEVER_SENT.has(error.code)) await quota.release(ctx.tenantId, appId, reservation);
      if (error.errcode === 45009) await quota.markSpent(ctx.tenantId, appId, group, clock.now());
      await this.record(ctx, appId, meta, group, {
        outcome: error.code === 'WECHAT_ERRCODE' ? 'ERRCODE' : 'FAILED',
        errcode: error.errcode,
        errmsg: error.errmsg || error.code,
        latencyMs: error.latencyMs === null ? null : Math.round(error.latencyMs),
      });
      return { ok: false, error: liveUserError(error) };
    }
  }

  /** The merchant's use of every quota group today. */
  quota(ctx: TenantContext, appId: string): Promise<ApiQuotaUsage[]> {
    return this.deps.quota.usage(ctx.tenantId, appId, this.deps.clock.now());
  }

  /** The audit trail of one merchant, newest first (keyset on id). */
  async history(ctx: TenantContext, appId: string, first: number, before?: number): Promise<{ items: LiveApiCallView[]; hasNextPage: boolean }> {
    const where: SQL[] = [eq(liveApiCalls.tenantId, ctx.tenantId), eq(liveApiCalls.appId, appId)];
    if (before !== undefined) where.push(lt(liveApiCalls.id, before));
    const rows = await inTenant(this.deps.db, ctx.tenantId, (db) =>
      db
        .select()
        .from(liveApiCalls)
        .where(and(...where))
        .orderBy(desc(liveApiCalls.id))
        .limit(first + 1),
    );
    return {
      hasNextPage: rows.length > first,
      items: rows.slice(0, first).map((r) => ({
        id: String(r.id),
        appId: r.appId,
        endpoint: r.endpoint,
        quotaGroup: r.quotaGroup,
        operation: r.operation,
        apiKeyId: r.apiKeyId,
        requestId: r.requestId,
        request: r.request,
        outcome: r.outcome,
        errcode: r.errcode,
        errmsg: r.errmsg,
        latencyMs: r.latencyMs,
        createdAt: r.createdAt,
      })),
    };
  }

  /** Calls recorded for a group on a quota day: the floor of a counter Redis lost (ApiQuotaLimiter's seed). */
  async recordedCalls(q: { tenantId: string; appId: string; group: LiveQuotaGroup; fromMs: number; toMs: number }): Promise<number> {
    const [row] = await inTenant(this.deps.db, q.tenantId, (db) =>
      db
        .select({ n: count() })
        .from(liveApiCalls)
        .where(
          and(
            eq(liveApiCalls.tenantId, q.tenantId),
            eq(liveApiCalls.appId, q.appId),
            eq(liveApiCalls.quotaGroup, q.group),
            sql`${liveApiCalls.outcome} <> 'QUOTA_REFUSED'`,
            gte(liveApiCalls.createdAt, new Date(q.fromMs)),
            lt(liveApiCalls.createdAt, new Date(q.toMs)),
          ),
        ),
    );
    return row?.n ?? 0;
  }

  private async record(
    ctx: TenantContext,
    appId: string,
    meta: LiveCallMeta,
    group: LiveQuotaGroup,
    answer: { outcome: LiveApiCallView['outcome']; errcode: number | null; errmsg: string | null; latencyMs: number | null },
  ): Promise<void> {
    try {
      await inTenant(this.deps.db, ctx.tenantId, (db) =>
        db.insert(liveApiCalls).values({
          tenantId: ctx.tenantId,
          appId,
          endpoint: meta.endpoint,
          quotaGroup: group,
          operation: meta.operation,
          apiKeyId: ctx.apiKeyId ?? null,
          requestId: ctx.requestId ?? null,
          request: meta.request,
          ...answer,
          createdAt: new Date(this.deps.clock.now()),
        }),
      );
    } catch (err) {
      // The call happened whatever the trail says; losing its line must not turn its answer into an error.
      this.deps.logger.error({ err, appId, endpoint: meta.endpoint }, 'live api call not written to the audit trail');
    }
  }
}

/** WeChat's refusal (or a failed call) as the user error a console shows. */
export function liveUserError(error: WechatError): UserError {
  const refusal = error.errcode === null ? undefined : LIVE_ERRCODES.get(error.errcode);
  let code: ErrorCode;
  if (refusal) code = refusal;
  else if (error.code === 'WECHAT_ERRCODE' && error.errcode !== null) {
    const { reason } = ruleOfErrcode(error.errcode);
    code = reason === 'REAUTHORIZE_REQUIRED' || reason === 'PERMISSION_NOT_GRANTED' ? reason : 'WECHAT_ERROR';
  } else if (error.code === 'WECHAT_ERRCODE') code = 'WECHAT_ERROR';
  else if (error.code === 'COMPONENT_TICKET_MISSING') code = 'COMPONENT_TICKET_MISSING';
  else if (error.code === 'AUTHORIZER_UNKNOWN') code = 'REAUTHORIZE_REQUIRED';
  else code = 'WECHAT_UNAVAILABLE';
  const detail = error.errcode === null ? `${error.endpoint}: ${error.errmsg || error.code}.` : `WeChat answered ${error.errcode} (${error.errmsg}).`;
  const result: UserError = { ...userError(code, detail) };
  if (error.errcode !== null) {
    result.errcode = error.errcode;
    result.errmsg = error.errmsg;
  }
  const qr = error.reply?.qrcode_url ?? error.reply?.codeurl;
  if (typeof qr === 'string' && qr !== '') result.qrcodeUrl = qr;
  return result;
}
