/**
 * The WeChat endpoints the gateway calls, by a short stable name (used in logs, metrics labels,
 * error values and the simulator's counters) mapped to their path under the API base URL.
 */
export const WECHAT_ENDPOINTS = {
  api_component_token: '/cgi-bin/component/api_component_token',
  api_create_preauthcode: '/cgi-bin/component/api_create_preauthcode',
  api_query_auth: '/cgi-bin/component/api_query_auth',
  api_authorizer_token: '/cgi-bin/component/api_authorizer_token',
  api_get_authorizer_info: '/cgi-bin/component/api_get_authorizer_info',
  applyliveinfo: '/wxa/business/applyliveinfo',
  quota_get: '/cgi-bin/openapi/quota/get',
} as const;

export type WechatEndpoint = keyof typeof WECHAT_ENDPOINTS;

export const WECHAT_ENDPOINT_NAMES = Object.keys(WECHAT_ENDPOINTS) as WechatEndpoint[];

/** The default base URL; deployments pass `WECHAT_API_BASE` instead. */
export const DEFAULT_WECHAT_API_BASE = 'https://api.weixin.qq.com';

/** Where a merchant authorizes a component; auth_type 2 limits the page to Mini Programs. */
export const COMPONENT_LOGIN_PAGE = 'https://mp.weixin.qq.com/cgi-bin/componentloginpage';
