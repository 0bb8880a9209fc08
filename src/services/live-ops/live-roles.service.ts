import { LIVE_ROLE_CODES } from '../../wechat/endpoints.js';
import type { WechatRoleMember } from '../../wechat/live/live-client.js';
import type { TenantContext } from '../context.js';
import { type UserError, userError } from '../errors.js';
import type { LiveCalls } from './live-calls.js';

export type LiveRoleName = (typeof LIVE_ROLE_CODES)[keyof typeof LIVE_ROLE_CODES];

const ROLE_CODE_OF = Object.fromEntries(Object.entries(LIVE_ROLE_CODES).map(([code, name]) => [name, Number(code)])) as Record<LiveRoleName, number>;
/** getrolelist answers at most 30 a page. */
export const ROLE_PAGE_MAX = 30;

export interface LiveRoleMemberView {
  username: string;
  nickname: string;
  openid: string;
  headImgUrl: string;
  roles: LiveRoleName[];
  updatedAt: Date;
}

export interface RoleListResult {
  members: LiveRoleMemberView[];
  total: number;
  userErrors: UserError[];
}

/** Admins, anchors and operators of a merchant's live: read and written through WeChat (role quota), nothing mirrored. */
export class LiveRolesService {
  constructor(private readonly calls: LiveCalls) {}

  async list(
    ctx: TenantContext,
    appId: string,
    options: { role?: LiveRoleName | null; offset?: number | null; first?: number | null; keyword?: string | null } = {},
  ): Promise<RoleListResult> {
    const refused = await this.calls.checkMerchant(ctx, appId);
    if (refused) return { members: [], total: 0, userErrors: [refused] };
    const role = options.role ? ROLE_CODE_OF[options.role] : -1;
    const offset = Math.max(0, Math.trunc(options.offset ?? 0));
    const limit = Math.max(1, Math.min(ROLE_PAGE_MAX, Math.trunc(options.first ?? ROLE_PAGE_MAX)));
    const keyword = options.keyword ?? undefined;
    const listed = await this.calls.call(ctx, appId, { endpoint: 'role_list', operation: 'liveRoles', request: { role, offset, limit, keyword } }, (c, token) =>
      c.roles(token, role, offset, limit, keyword),
    );
    if (!listed.ok) return { members: [], total: 0, userErrors: [listed.error] };
    return { members: listed.value.members.map(memberView), total: listed.value.total, userErrors: [] };
  }

  async add(ctx: TenantContext, appId: string, username: string, role: LiveRoleName): Promise<{ ok: boolean; userErrors: UserError[] }> {
    return this.write(ctx, appId, username, role, 'add');
  }

  async delete(ctx: TenantContext, appId: string, username: string, role: LiveRoleName): Promise<{ ok: boolean; userErrors: UserError[] }> {
    return this.write(ctx, appId, username, role, 'delete');
  }

  private async write(
    ctx: TenantContext,
    appId: string,
    username: string,
    role: LiveRoleName,
    action: 'add' | 'delete',
  ): Promise<{ ok: boolean; userErrors: UserError[] }> {
    const refused = await this.calls.checkMerchant(ctx, appId, ['input', 'appId']);
    if (refused) return { ok: false, userErrors: [refused] };
    if (!username.trim())
      return { ok: false, userErrors: [userError('INVALID_INPUT', 'username is the WeChat id (微信号) of the member.', ['input', 'username'])] };
    const code = ROLE_CODE_OF[role];
    const endpoint = action === 'add' ? 'role_add' : 'role_delete';
    const done = await this.calls.call(
      ctx,
      appId,
      { endpoint, operation: action === 'add' ? 'addLiveRole' : 'deleteLiveRole', request: { username, role: code } },
      (c, token) => (action === 'add' ? c.addRole(token, username, code) : c.deleteRole(token, username, code)),
    );
    return done.ok ? { ok: true, userErrors: [] } : { ok: false, userErrors: [done.error] };
  }
}

function memberView(m: WechatRoleMember): LiveRoleMemberView {
  return {
    username: m.username,
    nickname: m.nickname,
    openid: m.openid,
    headImgUrl: m.headingimg,
    roles: m.roles.map((r) => (LIVE_ROLE_CODES as Record<number, LiveRoleName>)[r]).filter((r): r is LiveRoleName => r !== undefined),
    updatedAt: new Date(m.updatedAt * 1000),
  };
}
