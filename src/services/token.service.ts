import { withLogContext } from '../lib/log-context.js';
import { isWechatError, type WechatError } from '../wechat/errors.js';
import type { CachedAccessToken, TokenManager } from '../wechat/tokens/token-manager.js';
import { isAppId } from './app-id.js';
import type { AuthorizersService } from './authorizers.service.js';
import type { TenantContext } from './context.js';
import { assertNever, DomainError } from './errors.js';

export interface AccessToken {
  token: string;
  expiresAt: Date;
}

export type TokenKind = 'component' | 'authorizer';

/** One read, for metrics: by API key (never by token), what was read, how it went. */
export interface TokenRead {
  /** The API key's id; `system` for internal callers. */
  keyId: string;
  kind: TokenKind;
  /** `current`: a plain read; `rejected`: a read reporting a rejected token; `failed`: answered with an error. */
  outcome: 'current' | 'rejected' | 'failed';
}

export interface TokenServiceDeps {
  tokens: Pick<TokenManager, 'readComponentToken' | 'readAuthorizerToken'>;
  authorizers: Pick<AuthorizersService, 'get'>;
  onRead?: (read: TokenRead) => void;
}

/**
 * The gateway's WeChat tokens handed to the provider's other backends, so that one system owns
 * them and nobody else refreshes (each refresh can invalidate what another system holds). Served
 * from the token manager's cache: a read refreshes only a token near expiry, or one the caller
 * reports as rejected while it is still the current one (compare-and-refresh, once across every
 * instance). Expected failures are DomainErrors:
 * - INVALID_APP_ID; NOT_FOUND for an app id that is not this tenant's merchant (another tenant's
 *   included: no answer tells a tenant what another one holds); AUTHORIZER_REVOKED;
 * - AUTHORIZER_NOT_FOUND when WeChat says the merchant never authorized the component;
 * - COMPONENT_TICKET_MISSING, REAUTHORIZE_REQUIRED, WECHAT_ERROR as WeChat's answer says.
 */
export class TokenService {
  constructor(private readonly deps: TokenServiceDeps) {}

  componentAccessToken(ctx: TenantContext, rejectedToken?: string | null): Promise<AccessToken> {
    return this.read(ctx, 'component', rejectedToken, (rejected) => this.deps.tokens.readComponentToken(ctx.tenantId, rejected));
  }

  authorizerAccessToken(ctx: TenantContext, appId: string, rejectedToken?: string | null): Promise<AccessToken> {
    return this.read(ctx, 'authorizer', rejectedToken, async (rejected) => {
      if (!isAppId(appId)) throw new DomainError('INVALID_APP_ID', `"${appId}" is not an app id.`);
      const authorizer = await this.deps.authorizers.get(ctx, appId);
      if (!authorizer) throw new DomainError('NOT_FOUND', `No merchant ${appId}.`);
      if (authorizer.status === 'REVOKED') throw new DomainError('AUTHORIZER_REVOKED', `Merchant ${appId}.`);
      return this.deps.tokens.readAuthorizerToken(ctx.tenantId, appId, rejected);
    });
  }

  private async read(
    ctx: TenantContext,
    kind: TokenKind,
    rejectedToken: string | null | undefined,
    read: (rejected: string | undefined) => Promise<CachedAccessToken>,
  ): Promise<AccessToken> {
    // An empty string is no token anyone was given: a plain read.
    const rejected = rejectedToken ? rejectedToken : undefined;
    const keyId = ctx.apiKeyId ?? 'system';
    const logged = ctx.requestId === undefined ? { tenantId: ctx.tenantId } : { tenantId: ctx.tenantId, requestId: ctx.requestId };
    try {
      const cached = await withLogContext(logged, () => read(rejected));
      this.deps.onRead?.({ keyId, kind, outcome: rejected === undefined ? 'current' : 'rejected' });
      return { token: cached.token, expiresAt: new Date(cached.expiresAt) };
    } catch (err) {
      this.deps.onRead?.({ keyId, kind, outcome: 'failed' });
      throw isWechatError(err) ? tokenFailure(err) : err;
    }
  }
}

/** What a token reader is told about a refresh that failed (the errcode table gave it its reason). */
function tokenFailure(err: WechatError): DomainError {
  const detail = err.errcode === null ? `${err.endpoint}: ${err.code}.` : `${err.endpoint} errcode ${err.errcode}: ${err.errmsg}.`;
  // No refresh token stored: the merchant's row went away after it was looked up.
  if (err.code === 'AUTHORIZER_UNKNOWN') return new DomainError('NOT_FOUND', 'No such merchant any more.');
  switch (err.reason) {
    case 'COMPONENT_TICKET_MISSING':
    case 'REAUTHORIZE_REQUIRED':
      return new DomainError(err.reason, detail);
    case 'PERMISSION_NOT_GRANTED':
      // On api_authorizer_token this is 61003, "component not authorized by this appid": for a
      // token, the merchant has not authorized the provider (no permission set is involved).
      return new DomainError(err.endpoint === 'api_authorizer_token' ? 'AUTHORIZER_NOT_FOUND' : 'WECHAT_ERROR', detail);
    // A read is one attempt (the caller retries), and the quota and pause reasons speak of applyliveinfo.
    case 'RETRIES_EXHAUSTED':
    case 'DAILY_QUOTA_REACHED':
    case 'LIVE_GRANTS_PAUSED':
    case 'NOT_PAID_90_DAYS':
    case 'WECHAT_ERROR':
      return new DomainError('WECHAT_ERROR', detail);
    default:
      return assertNever(err.reason);
  }
}
