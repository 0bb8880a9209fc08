import { z } from 'zod';
import type { WechatEndpoint } from '../endpoints.js';
import { WechatError } from '../errors.js';
import { createWechatHttp, type WechatHttpOptions, type WechatReply } from './http.js';
import type { ApiQuota, ApplyLiveResult, AuthorizationInfo, AuthorizerInfo, AuthorizerToken, ComponentToken, PreAuthCode } from './types.js';

export type WechatClientOptions = WechatHttpOptions;

/**
 * One typed function per WeChat endpoint, token handling left to the caller (see tokens/).
 * Rule: errcode 0 returns, anything else throws WechatError — except applyliveinfo's errcode 2,
 * a business result (see ApplyLiveResult).
 */
export interface WechatClient {
  componentToken(input: { componentAppId: string; componentAppSecret: string; ticket: string }): Promise<ComponentToken>;
  createPreAuthCode(componentAccessToken: string, componentAppId: string): Promise<PreAuthCode>;
  queryAuth(componentAccessToken: string, componentAppId: string, authorizationCode: string): Promise<AuthorizationInfo>;
  authorizerToken(
    componentAccessToken: string,
    input: { componentAppId: string; authorizerAppId: string; authorizerRefreshToken: string },
  ): Promise<AuthorizerToken>;
  getAuthorizerInfo(componentAccessToken: string, componentAppId: string, authorizerAppId: string): Promise<AuthorizerInfo>;
  applyLiveInfo(authorizerAccessToken: string): Promise<ApplyLiveResult>;
  /** Quota of one API of the authorizer, e.g. `/wxa/business/applyliveinfo`. */
  getApiQuota(authorizerAccessToken: string, cgiPath: string): Promise<ApiQuota>;
}

const funcInfo = z
  .array(z.object({ funcscope_category: z.object({ id: z.number() }) }))
  .optional()
  .transform((items) => (items ?? []).map((item) => item.funcscope_category.id));

const schemas = {
  componentToken: z.object({ component_access_token: z.string().min(1), expires_in: z.number() }),
  preAuthCode: z.object({ pre_auth_code: z.string().min(1), expires_in: z.number() }),
  queryAuth: z.object({
    authorization_info: z.object({
      authorizer_appid: z.string(),
      authorizer_access_token: z.string().min(1),
      expires_in: z.number(),
      authorizer_refresh_token: z.string().min(1),
      func_info: funcInfo,
    }),
  }),
  authorizerToken: z.object({
    authorizer_access_token: z.string().min(1),
    expires_in: z.number(),
    authorizer_refresh_token: z.string().optional(),
  }),
  authorizerInfo: z.object({
    authorizer_info: z.object({ nick_name: z.string().optional(), user_name: z.string().optional(), principal_name: z.string().optional() }).optional(),
    authorization_info: z.object({ authorizer_appid: z.string(), func_info: funcInfo }),
  }),
  quota: z.object({ quota: z.object({ daily_limit: z.number(), used: z.number(), remain: z.number() }) }),
};

/** A reply's body checked against its endpoint's shape; a mismatch is WECHAT_BAD_RESPONSE. */
export function readReply<S extends z.ZodType>(schema: S, endpoint: WechatEndpoint, reply: WechatReply): z.output<S> {
  const result = schema.safeParse(reply.body);
  if (!result.success) {
    throw new WechatError({
      code: 'WECHAT_BAD_RESPONSE',
      endpoint,
      errmsg: `unexpected reply shape: ${result.error.issues[0]?.path.join('.') ?? '?'}`,
      latencyMs: reply.latencyMs,
    });
  }
  return result.data;
}

export function createWechatClient(options: WechatClientOptions): WechatClient {
  const http = createWechatHttp(options);
  const component = (value: string) => ({ param: 'component_access_token', value }) as const;
  const authorizer = (value: string) => ({ param: 'access_token', value }) as const;

  return {
    async componentToken({ componentAppId, componentAppSecret, ticket }) {
      const reply = await http.post('api_component_token', null, {
        component_appid: componentAppId,
        component_appsecret: componentAppSecret,
        component_verify_ticket: ticket,
      });
      const body = readReply(schemas.componentToken, 'api_component_token', reply);
      return { componentAccessToken: body.component_access_token, expiresIn: body.expires_in, latencyMs: reply.latencyMs };
    },

    async createPreAuthCode(componentAccessToken, componentAppId) {
      const reply = await http.post('api_create_preauthcode', component(componentAccessToken), { component_appid: componentAppId });
      const body = readReply(schemas.preAuthCode, 'api_create_preauthcode', reply);
      return { preAuthCode: body.pre_auth_code, expiresIn: body.expires_in, latencyMs: reply.latencyMs };
    },

    async queryAuth(componentAccessToken, componentAppId, authorizationCode) {
      const reply = await http.post('api_query_auth', component(componentAccessToken), {
        component_appid: componentAppId,
        authorization_code: authorizationCode,
      });
      const info = readReply(schemas.queryAuth, 'api_query_auth', reply).authorization_info;
      return {
        authorizerAppId: info.authorizer_appid,
        authorizerAccessToken: info.authorizer_access_token,
        expiresIn: info.expires_in,
        authorizerRefreshToken: info.authorizer_refresh_token,
        permissionSets: info.func_info,
        latencyMs: reply.latencyMs,
      };
    },

    async authorizerToken(componentAccessToken, input) {
      const reply = await http.post('api_authorizer_token', component(componentAccessToken), {
        component_appid: input.componentAppId,
        authorizer_appid: input.authorizerAppId,
        authorizer_refresh_token: input.authorizerRefreshToken,
      });
      const body = readReply(schemas.authorizerToken, 'api_authorizer_token', reply);
      return {
        authorizerAccessToken: body.authorizer_access_token,
        expiresIn: body.expires_in,
        authorizerRefreshToken: body.authorizer_refresh_token || null,
        latencyMs: reply.latencyMs,
      };
    },

    async getAuthorizerInfo(componentAccessToken, componentAppId, authorizerAppId) {
      const reply = await http.post('api_get_authorizer_info', component(componentAccessToken), {
        component_appid: componentAppId,
        authorizer_appid: authorizerAppId,
      });
      const body = readReply(schemas.authorizerInfo, 'api_get_authorizer_info', reply);
      return {
        authorizerAppId: body.authorization_info.authorizer_appid,
        nickName: body.authorizer_info?.nick_name ?? null,
        userName: body.authorizer_info?.user_name ?? null,
        principalName: body.authorizer_info?.principal_name ?? null,
        permissionSets: body.authorization_info.func_info,
        latencyMs: reply.latencyMs,
      };
    },

    async applyLiveInfo(authorizerAccessToken) {
      // Errcode 2 (not paid in 90 days) is the merchant's state, not a failure of the call.
      const reply = await http.post('applyliveinfo', authorizer(authorizerAccessToken), { action: 'apply' }, [2]);
      return reply.errcode === 2
        ? { outcome: 'NOT_PAID', errcode: 2, errmsg: reply.errmsg, latencyMs: reply.latencyMs }
        : { outcome: 'SUBMITTED', errcode: 0, errmsg: reply.errmsg, latencyMs: reply.latencyMs };
    },

    async getApiQuota(authorizerAccessToken, cgiPath) {
      const reply = await http.post('quota_get', authorizer(authorizerAccessToken), { cgi_path: cgiPath });
      const { quota } = readReply(schemas.quota, 'quota_get', reply);
      return { dailyLimit: quota.daily_limit, used: quota.used, remain: quota.remain, latencyMs: reply.latencyMs };
    },
  };
}
