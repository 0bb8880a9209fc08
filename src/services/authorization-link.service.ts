import type { Clock } from '../lib/clock.js';
import { withLogContext } from '../lib/log-context.js';
import { isWechatError } from '../wechat/errors.js';
import type { WechatApi } from '../wechat/wechat-api.js';
import type { TenantContext } from './context.js';
import { type UserError, userError } from './errors.js';

export interface AuthorizationLinkResult {
  link: { url: string; expiresAt: string } | null;
  userErrors: UserError[];
}

/**
 * The component authorization page a merchant opens to authorize the provider: a fresh pre-auth
 * code (component token of the caller's tenant) inside WeChat's login page URL.
 */
export class AuthorizationLinkService {
  constructor(private readonly deps: { wechat: Pick<WechatApi, 'createPreAuthCode' | 'componentLoginPageUrl'>; clock: Clock }) {}

  async create(ctx: TenantContext, redirectUri: string): Promise<AuthorizationLinkResult> {
    if (!isHttpUrl(redirectUri)) {
      return { link: null, userErrors: [userError('INVALID_INPUT', 'redirectUri must be an absolute http(s) URL.', ['redirectUri'])] };
    }
    try {
      const logged = ctx.requestId === undefined ? { tenantId: ctx.tenantId } : { tenantId: ctx.tenantId, requestId: ctx.requestId };
      const code = await withLogContext(logged, () => this.deps.wechat.createPreAuthCode(ctx.tenantId));
      return {
        link: {
          url: this.deps.wechat.componentLoginPageUrl(code.componentAppId, code.preAuthCode, redirectUri),
          expiresAt: new Date(this.deps.clock.now() + code.expiresIn * 1000).toISOString(),
        },
        userErrors: [],
      };
    } catch (err) {
      if (!isWechatError(err)) throw err;
      if (err.code === 'COMPONENT_TICKET_MISSING') return { link: null, userErrors: [userError('COMPONENT_TICKET_MISSING')] };
      const detail = err.errcode === null ? `${err.code}.` : `errcode ${err.errcode}: ${err.errmsg}.`;
      return { link: null, userErrors: [userError('WECHAT_ERROR', detail)] };
    }
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}
