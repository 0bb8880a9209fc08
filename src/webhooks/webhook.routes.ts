import { addToLogContext } from '../lib/log-context.js';
import { BodyTooLargeError, type RequestContext, type Route, readBody, sendText } from '../http/router.js';
import { MsgCryptError } from '../wechat/wire/msg-crypt.js';
import type { InboxKind } from './inbox.store.js';
import type { PushIntake } from './push-intake.js';
import { readQuery, type VerifyOptions, verifyEchostr, verifyPush } from './push-verifier.js';
import type { ReplayGuard } from './replay-guard.js';
import type { PushCrypt } from './rotating-crypt.js';
import type { TenantCrypt, TenantCryptCache } from './tenant-crypt-cache.js';
import { type OnOutcome, type OutcomeReason, type WebhookOutcome, WebhookRejection } from './webhook-outcome.js';

/** On a `success` answer: `accepted` (stored now), `duplicate` (the inbox holds this push already) or `replayed`. */
export const OUTCOME_HEADER = 'x-wxlive-outcome';

export const AUTH_PATH = '/webhooks/wechat/:tenantId/auth';
export const EVENTS_PATH = '/webhooks/wechat/:tenantId/events/:appId';
export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;

export interface WebhookRouteDeps {
  crypts: TenantCryptCache;
  replayGuard: ReplayGuard;
  intake: PushIntake;
  /** Counted by outcome and reason (the lead wires prom-client here). */
  onOutcome?: OnOutcome;
  /** Accept pushes and URL checks in plaintext mode (no encrypt_type=aes); default true. */
  acceptPlaintext?: boolean;
  /** Default 1 MiB. */
  maxBodyBytes?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// `$APPID$` becomes an authorizer app id; anything else is not a URL we gave out.
const PATH_APP_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The two push URLs of a tenant (see docs/webhooks.md). A POST verifies, stores, answers
 * `success`, and only then processes; a GET answers the URL check after its signature verifies.
 */
export function createWebhookRoutes(deps: WebhookRouteDeps): Route[] {
  const maxBodyBytes = deps.maxBodyBytes ?? MAX_WEBHOOK_BODY_BYTES;
  const verifyOptions: VerifyOptions = {
    acceptPlaintext: deps.acceptPlaintext ?? true,
    isFresh: (timestamp) => deps.replayGuard.isFresh(timestamp),
  };
  const report = (ctx: RequestContext, tenantId: string | undefined, outcome: WebhookOutcome, reason: OutcomeReason, detail?: string) => {
    deps.onOutcome?.(outcome, reason);
    const fields = { tenantId, path: ctx.url.pathname, outcome, reason, ...(detail === undefined ? {} : { detail }) };
    if (outcome === 'unavailable') ctx.log.error(fields, 'webhook push not stored');
    else if (outcome === 'rejected') ctx.log.warn(fields, 'webhook request rejected');
    else ctx.log.info(fields, 'webhook request answered');
  };

  /** Runs one request; every refusal becomes its status and reason, logged and counted once. */
  const guarded = (kind: InboxKind, run: (ctx: RequestContext, tenant: TenantCrypt, pathAppId: string | undefined) => Promise<void>) => {
    return async (ctx: RequestContext): Promise<void> => {
      const tenantId = ctx.params.tenantId ?? '';
      try {
        const pathAppId = kind === 'event' ? ctx.params.appId : undefined;
        if (pathAppId !== undefined && !PATH_APP_ID.test(pathAppId)) throw new WebhookRejection('BAD_APP_ID_PATH', 'the app id in the URL is not one');
        const tenant = await tenantCrypt(deps.crypts, tenantId);
        addToLogContext({ tenantId: tenant.tenantId });
        await run(ctx, tenant, pathAppId);
      } catch (err) {
        if (!(err instanceof WebhookRejection)) throw err;
        const outcome: WebhookOutcome = err.status >= 500 ? 'unavailable' : 'rejected';
        const cause = err.cause instanceof Error ? `; ${innermostMessage(err.cause)}` : '';
        report(ctx, UUID.test(tenantId) ? tenantId : undefined, outcome, err.reason, `${err.detail}${cause}`);
        // An oversized body is not read to its end: answer, then close instead of draining it.
        if (err.reason === 'BODY_TOO_LARGE') ctx.res.setHeader('connection', 'close');
        sendText(ctx.res, err.status, err.reason);
      }
    };
  };

  const check = (kind: InboxKind) =>
    guarded(kind, async (ctx, tenant) => {
      const query = readQuery(ctx.url.searchParams);
      const echo = await verifiedWith(deps.crypts, tenant, (crypt) => verifyEchostr(crypt, query, verifyOptions));
      report(ctx, tenant.tenantId, 'verified', 'URL_VERIFIED');
      sendText(ctx.res, 200, echo);
    });

  const receive = (kind: InboxKind) =>
    guarded(kind, async (ctx, tenant, pathAppId) => {
      const raw = await readLimited(ctx, maxBodyBytes);
      const query = readQuery(ctx.url.searchParams);
      const body = raw.toString('utf8');
      const verified = await verifiedWith(deps.crypts, tenant, (crypt) => verifyPush(crypt, query, body, verifyOptions));
      if (pathAppId !== undefined && verified.push.kind === 'wxa_live_apply_event' && verified.push.appid !== pathAppId) {
        // The signed inner appid wins; a mismatch means a misconfigured URL or WeChat's release-test accounts.
        ctx.log.warn({ tenantId: tenant.tenantId, pathAppId, appid: verified.push.appid }, 'live event appid differs from the URL app id');
      }
      // The query string exactly as it arrived (URL's `search` would re-encode some characters).
      const envelope = { query: rawQueryOf(ctx.req.url), body: raw, contentType: headerValue(ctx.req.headers['content-type']) };
      const { result, process } = await deps.intake.store({ tenantId: tenant.tenantId, kind, pathAppId, verified, envelope });
      report(ctx, tenant.tenantId, result.outcome, result.kind, result.inboxId === undefined ? undefined : `inbox ${result.inboxId}`);
      // WeChat reads the body only; the outcome tells a stored push from a repeat of one, for whoever relays or tests.
      ctx.res.setHeader(OUTCOME_HEADER, result.outcome);
      sendText(ctx.res, 200, 'success');
      process();
    });

  return [
    { method: 'GET', path: AUTH_PATH, handler: check('auth') },
    { method: 'POST', path: AUTH_PATH, handler: receive('auth') },
    { method: 'GET', path: EVENTS_PATH, handler: check('event') },
    { method: 'POST', path: EVENTS_PATH, handler: receive('event') },
  ];
}

/**
 * The driver's own message under any wrappers: a failed query's message lists its parameters,
 * and the inbox insert's include the decrypted push (tickets, authorization codes).
 */
function innermostMessage(error: Error): string {
  let inner = error;
  while (inner.cause instanceof Error) inner = inner.cause;
  return inner.message;
}

/** Signature and ciphertext failures: what a token or EncodingAESKey rotated elsewhere looks like. */
const CRYPT_REASONS: ReadonlySet<OutcomeReason> = new Set<OutcomeReason>(['BAD_SIGNATURE', 'BAD_CIPHERTEXT', 'BAD_PADDING', 'BAD_LENGTH', 'WRONG_APP_ID']);

/**
 * Verifies under the cached keys; when that fails on the signature or the ciphertext, once more
 * under keys loaded again (at most every few seconds per tenant, see TenantCryptCache.reload), so
 * a rotation made on another instance or with the CLI is honoured before the cache's TTL runs out.
 */
async function verifiedWith<T>(crypts: TenantCryptCache, tenant: TenantCrypt, verify: (crypt: PushCrypt) => T): Promise<T> {
  try {
    return verify(tenant.crypt);
  } catch (err) {
    if (!(err instanceof WebhookRejection) || !CRYPT_REASONS.has(err.reason)) throw err;
    const reloaded = await lookup(() => crypts.reload(tenant.tenantId));
    if (reloaded === undefined) throw err;
    return verify(reloaded.crypt);
  }
}

async function tenantCrypt(crypts: TenantCryptCache, tenantId: string): Promise<TenantCrypt> {
  if (!UUID.test(tenantId)) throw new WebhookRejection('UNKNOWN_TENANT', 'the tenant id is not a UUID');
  const found = await lookup(() => crypts.get(tenantId.toLowerCase()));
  if (found === undefined) throw new WebhookRejection('UNKNOWN_TENANT', 'no such tenant');
  return found;
}

async function lookup(load: () => Promise<TenantCrypt | undefined> | undefined): Promise<TenantCrypt | undefined> {
  try {
    return await load();
  } catch (err) {
    if (err instanceof MsgCryptError) throw new WebhookRejection('TENANT_MISCONFIGURED', 'the stored EncodingAESKey is not usable', { cause: err });
    throw new WebhookRejection('STORE_UNAVAILABLE', 'the tenant lookup failed', { cause: err });
  }
}

function rawQueryOf(target: string | undefined): string {
  const at = target?.indexOf('?') ?? -1;
  return at < 0 || target === undefined ? '' : target.slice(at + 1);
}

function headerValue(value: string | string[] | undefined): string | null {
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

async function readLimited(ctx: RequestContext, limit: number): Promise<Buffer> {
  try {
    return await readBody(ctx.req, limit);
  } catch (err) {
    if (err instanceof BodyTooLargeError) throw new WebhookRejection('BODY_TOO_LARGE', err.message);
    throw err;
  }
}
