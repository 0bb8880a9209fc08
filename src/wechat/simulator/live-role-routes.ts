import type { LiveEndpoint } from '../endpoints.js';
import { badParam, type Checked, integerField, type LiveCall, type LiveHandler, page, queryInteger, valid } from './live-params.js';
import { openidOf } from './live-state.js';
import { fail, ok } from './replies.js';

/** Where WeChat sends a member to verify their real name (its 400002 answer carries it). */
export const ROLE_REAL_NAME_CODE_URL = 'https://res.wx.qq.com/op_res/9rSix1dhHfK4rR049JL0PHJ7TpOvkuZ3mE0z7Ou_Etvjf-w1J_jVX0rZqeStLfwh';

/** WeChat's caps per role: 10 admins, 500 anchors, 500 operators. */
export const ROLE_CAPS: Record<number, number> = { 1: 10, 2: 500, 3: 500 };

function roleRequest(call: LiveCall): Checked<{ username: string; role: number }> {
  const username = typeof call.body.username === 'string' ? call.body.username : '';
  if (username === '') return badParam('username', 'missing');
  const role = integerField(call.body, 'role');
  if (!role.ok) return role;
  if (ROLE_CAPS[role.value] === undefined) return badParam('role', 'expected 1 (admin), 2 (anchor) or 3 (operator)');
  return valid({ username, role: role.value });
}

export function roleHandlers(): Pick<Record<LiveEndpoint, LiveHandler>, RoleEndpoint> {
  return {
    role_add(call) {
      const request = roleRequest(call);
      if (!request.ok) return request.reply;
      const { username, role } = request.value;
      if (username.startsWith('invalid')) return fail(400001, 'wechat id invalid');
      if (username.startsWith('unverified')) return fail(400002, 'wechat id not real-name verified', { codeurl: ROLE_REAL_NAME_CODE_URL });
      const members = call.app.members;
      if (members.get(username)?.roles.has(role)) return fail(400004, 'role already exists');
      const holders = [...members.values()].filter((m) => m.roles.has(role)).length;
      if (holders >= (ROLE_CAPS[role] ?? 0)) return fail(400003, 'role limit reached');
      const member = members.get(username) ?? { username, nickname: `nick_${username}`, roles: new Set<number>(), updateTimestamp: 0 };
      member.roles.add(role);
      member.updateTimestamp = call.live.nowSeconds();
      members.set(username, member);
      return ok({});
    },

    role_delete(call) {
      const request = roleRequest(call);
      if (!request.ok) return request.reply;
      const { username, role } = request.value;
      if (username.startsWith('invalid')) return fail(400001, 'wechat id invalid');
      const member = call.app.members.get(username);
      if (!member?.roles.has(role)) return badParam('username', 'has no such role').reply;
      if (role === 2) {
        const waiting = [...call.app.rooms.values()].some((room) => room.anchorWechat === username && call.live.roomStatus(room) === 102);
        if (waiting) return fail(400005, 'anchor has rooms not started');
      }
      member.roles.delete(role);
      member.updateTimestamp = call.live.nowSeconds();
      if (member.roles.size === 0) call.app.members.delete(username);
      return ok({});
    },

    role_list(call) {
      const role = queryInteger(call.query, 'role', -1);
      if (!role.ok) return role.reply;
      if (role.value !== -1 && ROLE_CAPS[role.value] === undefined) return badParam('role', 'expected -1 (all), 1, 2 or 3').reply;
      const window = page(queryInteger(call.query, 'offset', 0), queryInteger(call.query, 'limit', 10), ['offset', 'limit'], 30);
      if (!window.ok) return window.reply;
      const keyword = call.query.get('keyword') ?? '';
      const matching = [...call.app.members.values()]
        .filter((m) => role.value === -1 || m.roles.has(role.value))
        .filter((m) => keyword === '' || m.username.includes(keyword) || m.nickname.includes(keyword));
      const { start, limit } = window.value;
      const list = matching.slice(start, start + limit).map((m) => ({
        headingimg: `https://wx.qlogo.cn/sim/${openidOf(call.appId, m.username)}/132`,
        nickname: m.nickname,
        openid: openidOf(call.appId, m.username),
        roleList: [...m.roles].sort(),
        updateTimestamp: m.updateTimestamp,
        username: m.username,
      }));
      return ok({ total: matching.length, list });
    },
  };
}

export type RoleEndpoint = 'role_add' | 'role_delete' | 'role_list';
