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
  // Live management after OPENED (permission set 52, authorizer_access_token). See LIVE_ENDPOINTS.
  media_upload: '/cgi-bin/media/upload',
  room_create: '/wxaapi/broadcast/room/create',
  room_delete: '/wxaapi/broadcast/room/deleteroom',
  room_edit: '/wxaapi/broadcast/room/editroom',
  room_push_url: '/wxaapi/broadcast/room/getpushurl',
  room_shared_code: '/wxaapi/broadcast/room/getsharedcode',
  room_add_goods: '/wxaapi/broadcast/room/addgoods',
  room_add_assistant: '/wxaapi/broadcast/room/addassistant',
  room_remove_assistant: '/wxaapi/broadcast/room/removeassistant',
  room_assistant_list: '/wxaapi/broadcast/room/getassistantlist',
  room_add_sub_anchor: '/wxaapi/broadcast/room/addsubanchor',
  room_modify_sub_anchor: '/wxaapi/broadcast/room/modifysubanchor',
  room_delete_sub_anchor: '/wxaapi/broadcast/room/deletesubanchor',
  room_get_sub_anchor: '/wxaapi/broadcast/room/getsubanchor',
  room_update_feed_public: '/wxaapi/broadcast/room/updatefeedpublic',
  room_update_replay: '/wxaapi/broadcast/room/updatereplay',
  room_update_kf: '/wxaapi/broadcast/room/updatekf',
  room_update_comment: '/wxaapi/broadcast/room/updatecomment',
  live_info: '/wxa/business/getliveinfo',
  goods_add: '/wxaapi/broadcast/goods/add',
  goods_reset_audit: '/wxaapi/broadcast/goods/resetaudit',
  goods_audit: '/wxaapi/broadcast/goods/audit',
  goods_delete: '/wxaapi/broadcast/goods/delete',
  goods_update: '/wxaapi/broadcast/goods/update',
  goods_approved: '/wxaapi/broadcast/goods/getapproved',
  goods_warehouse: '/wxa/business/getgoodswarehouse',
  role_add: '/wxaapi/broadcast/role/addrole',
  role_delete: '/wxaapi/broadcast/role/deleterole',
  role_list: '/wxaapi/broadcast/role/getrolelist',
} as const;

export type WechatEndpoint = keyof typeof WECHAT_ENDPOINTS;

export const WECHAT_ENDPOINT_NAMES = Object.keys(WECHAT_ENDPOINTS) as WechatEndpoint[];

/**
 * Daily quota groups of the live management API, per authorizer app id, reset at 00:00 UTC+8 like
 * applyliveinfo's. WeChat counts some endpoints against one shared budget (goods add and audit
 * share 500 a day). The gateway reserves from these before each call (src/jobs/api-quota.ts).
 */
export const LIVE_QUOTA_GROUPS = {
  /** Room calls (create, delete, edit, push URL, share code, add goods, assistants): 10,000 a day. */
  room: 10_000,
  /** getliveinfo, room list and replays: 100,000 a day. */
  live_info: 100_000,
  /** Goods add and audit (submit for review) share 500 a day. */
  goods_audit: 500,
  /** Goods delete, update and reset audit: 1,000 a day. */
  goods_write: 1_000,
  /** Goods reads (approved list, warehouse): 10,000 a day. */
  goods_read: 10_000,
  /** Role add, delete and list: 10,000 a day. */
  role: 10_000,
  /** Temporary media uploads for cover, share, feeds and goods images: 1,000 a day. */
  media: 1_000,
} as const;

export type LiveQuotaGroup = keyof typeof LIVE_QUOTA_GROUPS;

export const LIVE_QUOTA_GROUP_NAMES = Object.keys(LIVE_QUOTA_GROUPS) as LiveQuotaGroup[];

/** Each live endpoint: its HTTP method at WeChat and the quota group it spends. */
export const LIVE_ENDPOINTS = {
  media_upload: { method: 'MULTIPART', group: 'media' },
  room_create: { method: 'POST', group: 'room' },
  room_delete: { method: 'POST', group: 'room' },
  room_edit: { method: 'POST', group: 'room' },
  room_push_url: { method: 'GET', group: 'room' },
  room_shared_code: { method: 'GET', group: 'room' },
  room_add_goods: { method: 'POST', group: 'room' },
  room_add_assistant: { method: 'POST', group: 'room' },
  room_remove_assistant: { method: 'POST', group: 'room' },
  room_assistant_list: { method: 'GET', group: 'room' },
  room_add_sub_anchor: { method: 'POST', group: 'room' },
  room_modify_sub_anchor: { method: 'POST', group: 'room' },
  room_delete_sub_anchor: { method: 'POST', group: 'room' },
  room_get_sub_anchor: { method: 'GET', group: 'room' },
  room_update_feed_public: { method: 'POST', group: 'room' },
  room_update_replay: { method: 'POST', group: 'room' },
  room_update_kf: { method: 'POST', group: 'room' },
  room_update_comment: { method: 'POST', group: 'room' },
  live_info: { method: 'POST', group: 'live_info' },
  goods_add: { method: 'POST', group: 'goods_audit' },
  goods_audit: { method: 'POST', group: 'goods_audit' },
  goods_reset_audit: { method: 'POST', group: 'goods_write' },
  goods_delete: { method: 'POST', group: 'goods_write' },
  goods_update: { method: 'POST', group: 'goods_write' },
  goods_approved: { method: 'GET', group: 'goods_read' },
  goods_warehouse: { method: 'POST', group: 'goods_read' },
  role_add: { method: 'POST', group: 'role' },
  role_delete: { method: 'POST', group: 'role' },
  role_list: { method: 'GET', group: 'role' },
} as const satisfies Partial<Record<WechatEndpoint, { method: 'GET' | 'POST' | 'MULTIPART'; group: LiveQuotaGroup }>>;

export type LiveEndpoint = keyof typeof LIVE_ENDPOINTS;

/** Rooms per getliveinfo page the gateway asks for (WeChat advises under 100). */
export const LIVE_INFO_PAGE_SIZE = 80;

/** WeChat room `live_status` codes. */
export const LIVE_STATUS_CODES = {
  101: 'LIVE',
  102: 'NOT_STARTED',
  103: 'ENDED',
  104: 'BANNED',
  105: 'PAUSED',
  106: 'ERROR',
  107: 'EXPIRED',
} as const;

/** WeChat goods `audit_status` codes. */
export const GOODS_AUDIT_STATUS_CODES = {
  0: 'NOT_SUBMITTED',
  1: 'AUDITING',
  2: 'APPROVED',
  3: 'REJECTED',
} as const;

/** WeChat live role codes (addrole's `role`). */
export const LIVE_ROLE_CODES = {
  1: 'ADMIN',
  2: 'ANCHOR',
  3: 'OPERATOR',
} as const;

/** The default base URL; deployments pass `WECHAT_API_BASE` instead. */
export const DEFAULT_WECHAT_API_BASE = 'https://api.weixin.qq.com';

/** Where a merchant authorizes a component; auth_type 2 limits the page to Mini Programs. */
export const COMPONENT_LOGIN_PAGE = 'https://mp.weixin.qq.com/cgi-bin/componentloginpage';
