import { setTimeout as sleep } from 'node:timers/promises';
import { LIVE_ENDPOINTS, type LiveEndpoint, WECHAT_ENDPOINTS, type WechatEndpoint } from '../endpoints.js';
import type { SimPusher } from './pusher.js';
import { createLiveRoutes } from './live-routes.js';
import { fail, HTTP_500, type Handler, LIVE_PERMISSION_SET, ok, type SimReply, type SimRequest, str, unwrap } from './replies.js';
import { randomId, type SimState, type TokenCheck } from './state.js';

export type { SimReply, SimRequest } from './replies.js';

function rejected(check: TokenCheck & { ok: false }): SimReply {
  return fail(check.errcode, check.errmsg);
}

function funcInfo(permissionSets: number[]) {
  return permissionSets.map((id) => ({ funcscope_category: { id } }));
}

const LIVE_ENDPOINT_BY_PATH = new Map<string, LiveEndpoint>(
  Object.keys(LIVE_ENDPOINTS).map((endpoint) => [WECHAT_ENDPOINTS[endpoint as LiveEndpoint], endpoint as LiveEndpoint]),
);

/** WeChat's endpoints, keyed by path, answering with WeChat's request and reply shapes. */
export function createWechatRoutes(state: SimState, pusher: SimPusher): Map<string, { endpoint: WechatEndpoint; handle: Handler }> {
  const count = (endpoint: WechatEndpoint, appId: string) => state.counters.call(endpoint, appId || '-');

  /** Component endpoints share this: count the call, then check the component token. */
  const withComponentToken =
    (endpoint: WechatEndpoint, run: (request: SimRequest, componentAppId: string) => SimReply): Handler =>
    (request) => {
      count(endpoint, str(request.body, 'authorizer_appid') || str(request.body, 'component_appid'));
      const check = state.checkToken(request.query.get('component_access_token'), 'component');
      if (!check.ok) return rejected(check);
      if (str(request.body, 'component_appid') !== check.token.componentAppId) return fail(40013, 'invalid appid');
      return run(request, check.token.componentAppId);
    };

  // The live management endpoints (LIVE_ENDPOINTS) are answered by live-routes.ts.
  const handlers: Record<Exclude<WechatEndpoint, LiveEndpoint>, Handler> = {
    api_component_token({ body }) {
      const componentAppId = str(body, 'component_appid');
      count('api_component_token', componentAppId);
      const component = state.components.get(componentAppId);
      if (!component) return fail(40013, 'invalid appid');
      if (str(body, 'component_appsecret') !== component.componentAppSecret) return fail(40125, 'invalid appsecret');
      if (str(body, 'component_verify_ticket') !== component.ticket) return fail(61006, 'component ticket is invalid');
      const { token, expiresIn } = state.issueToken('component', componentAppId, null);
      return { status: 200, json: { component_access_token: token, expires_in: expiresIn } };
    },

    api_create_preauthcode: withComponentToken('api_create_preauthcode', () => ({
      status: 200,
      json: { pre_auth_code: randomId('preauthcode@@@'), expires_in: 600 },
    })),

    api_query_auth: withComponentToken('api_query_auth', ({ body }, componentAppId) => {
      const code = state.takeAuthCode(str(body, 'authorization_code'));
      if (!code || code.componentAppId !== componentAppId) return fail(61010, 'code is expired or invalid');
      const authorizer = state.addAuthorizer({ componentAppId, appId: code.appId, funcInfo: code.permissionSets });
      const { token, expiresIn } = state.issueToken('authorizer', componentAppId, code.appId);
      return {
        status: 200,
        json: {
          authorization_info: {
            authorizer_appid: code.appId,
            authorizer_access_token: token,
            expires_in: expiresIn,
            authorizer_refresh_token: authorizer.refreshToken,
            func_info: funcInfo(authorizer.permissionSets),
          },
        },
      };
    }),

    api_authorizer_token: withComponentToken('api_authorizer_token', ({ body }, componentAppId) => {
      const authorizer = state.authorizer(componentAppId, str(body, 'authorizer_appid'));
      if (!authorizer) return fail(61003, 'component is not authorized by this account');
      if (str(body, 'authorizer_refresh_token') !== authorizer.refreshToken) return fail(61023, 'refresh_token is invalid');
      if (authorizer.rotateRefreshToken) authorizer.refreshToken = randomId('refreshtoken@@@');
      const { token, expiresIn } = state.issueToken('authorizer', componentAppId, authorizer.appId);
      return {
        status: 200,
        json: { authorizer_access_token: token, expires_in: expiresIn, authorizer_refresh_token: authorizer.refreshToken },
      };
    }),

    api_get_authorizer_info: withComponentToken('api_get_authorizer_info', ({ body }, componentAppId) => {
      const authorizer = state.authorizer(componentAppId, str(body, 'authorizer_appid'));
      if (!authorizer) return fail(61003, 'component is not authorized by this account');
      return {
        status: 200,
        json: {
          authorizer_info: {
            nick_name: authorizer.nickName,
            user_name: authorizer.userName,
            principal_name: `${authorizer.nickName} Ltd.`,
            MiniProgramInfo: {},
          },
          authorization_info: {
            authorizer_appid: authorizer.appId,
            authorizer_refresh_token: authorizer.refreshToken,
            func_info: funcInfo(authorizer.permissionSets),
          },
        },
      };
    }),

    async applyliveinfo({ query, body, onAbandoned }) {
      const check = state.checkToken(query.get('access_token'), 'authorizer');
      const appId = check.ok ? (check.token.appId ?? '') : '';
      count('applyliveinfo', appId);
      onAbandoned?.(() => state.counters.abandon('applyliveinfo', appId));
      if (!check.ok) return rejected(check);
      if (body.action !== 'apply') return fail(47001, 'data format error');
      const behaviour = state.behaviour(appId);
      const { delayMs, terminal } = unwrap(behaviour.scenario);
      if (delayMs > 0) await sleep(delayMs);
      if (terminal.kind === 'http500') return HTTP_500;
      if (terminal.kind === 'errcode' && state.consume(appId, terminal.times ?? 'forever')) {
        return fail(terminal.errcode, terminal.errmsg ?? `simulated errcode ${terminal.errcode}`);
      }
      const authorizer = state.authorizer(check.token.componentAppId, appId);
      if (terminal.kind === 'no_permission' || !authorizer?.permissionSets.includes(LIVE_PERMISSION_SET)) {
        return fail(61007, 'api is unauthorized to component');
      }
      // Like WeChat, every call that reaches the API counts, including the refused ones.
      if (state.countApplyLive(appId) > state.settings.applyLiveDailyLimit) {
        return fail(45009, 'reach max api daily quota limit');
      }
      // WeChat-wide and past the quota step, so it spends quota like any call; it answers before
      // the merchant's own outcome (busy, not_paid, accept), which it replaces.
      if (state.liveGrants.paused) return fail(268489001, state.liveGrants.errmsg);
      if (terminal.kind === 'busy' && state.consume(appId, terminal.times)) return fail(-1, 'system error');
      if (terminal.kind === 'not_paid') return fail(2, 'no payment in the last 90 days');
      const component = state.components.get(authorizer.componentAppId);
      if (component && behaviour.openAfterMs !== null) pusher.scheduleLiveEvent(component, authorizer, behaviour.openAfterMs);
      return ok({ action: 'apply' });
    },

    quota_get({ query, body }) {
      const check = state.checkToken(query.get('access_token'), 'authorizer');
      const appId = check.ok ? (check.token.appId ?? '') : '';
      count('quota_get', appId);
      if (!check.ok) return rejected(check);
      const cgiPath = str(body, 'cgi_path');
      const liveEndpoint = LIVE_ENDPOINT_BY_PATH.get(cgiPath);
      if (liveEndpoint) {
        const group = LIVE_ENDPOINTS[liveEndpoint].group;
        const limit = state.settings.liveQuotas[group];
        const used = Math.min(state.live.quotaUsed(appId, group), limit);
        return ok({ quota: { daily_limit: limit, used, remain: limit - used } });
      }
      if (cgiPath !== WECHAT_ENDPOINTS.applyliveinfo) return fail(76021, 'cgi_path not found');
      const limit = state.settings.applyLiveDailyLimit;
      const used = Math.min(state.applyLiveUsed(appId), limit);
      return ok({ quota: { daily_limit: limit, used, remain: limit - used } });
    },
  };

  const routes = new Map<string, { endpoint: WechatEndpoint; handle: Handler }>();
  const all: Record<WechatEndpoint, Handler> = { ...handlers, ...createLiveRoutes(state) };
  for (const [endpoint, handle] of Object.entries(all) as [WechatEndpoint, Handler][]) {
    routes.set(WECHAT_ENDPOINTS[endpoint], { endpoint, handle });
  }
  return routes;
}
