import { z } from 'zod';
import { LIVE_ENDPOINTS, LIVE_QUOTA_GROUP_NAMES, type LiveEndpoint, WECHAT_ENDPOINT_NAMES } from '../endpoints.js';
import { SimAdminError, type SimPusher } from './pusher.js';
import { LIVE_GRANTS_PAUSED_ERRMSG, randomId, type SimState } from './state.js';
import type { ScenarioEndpoint, SimScenario } from './types.js';

const LIVE_ENDPOINT_NAMES = Object.keys(LIVE_ENDPOINTS) as LiveEndpoint[];
const SCENARIO_ENDPOINTS = ['applyliveinfo', ...LIVE_ENDPOINT_NAMES] as [ScenarioEndpoint, ...ScenarioEndpoint[]];

/** Whether a scenario (or the one it wraps) is `not_paid`, which only applyliveinfo answers. */
function isNotPaid(scenario: SimScenario): boolean {
  return scenario.kind === 'not_paid' || (scenario.kind === 'slow' && isNotPaid(scenario.inner));
}

const times = z.union([z.number().int().min(0), z.literal('forever')]);

const scenario: z.ZodType<SimScenario> = z.lazy(() =>
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('accept') }),
    z.object({ kind: z.literal('not_paid') }),
    z.object({ kind: z.literal('busy'), times }),
    z.object({ kind: z.literal('slow'), delayMs: z.number().int().min(0), inner: scenario }),
    z.object({ kind: z.literal('http500') }),
    z.object({ kind: z.literal('no_permission') }),
    z.object({ kind: z.literal('errcode'), errcode: z.number().int(), errmsg: z.string().optional(), times: times.optional() }),
  ]),
);

const schemas = {
  component: z.object({
    componentAppId: z.string().min(1),
    componentAppSecret: z.string().min(1),
    token: z.string().min(1),
    encodingAesKey: z.string().length(43),
    authUrl: z.string().url().nullish(),
    messageUrlTemplate: z.string().nullish(),
    ticket: z.string().min(1).optional(),
  }),
  ticket: z.object({ componentAppId: z.string(), ticket: z.string().min(1).optional(), push: z.boolean().optional() }),
  authorizer: z.object({
    componentAppId: z.string(),
    appId: z.string().min(1),
    refreshToken: z.string().min(1).optional(),
    funcInfo: z.array(z.number().int()).optional(),
    rotateRefreshToken: z.boolean().optional(),
    nickName: z.string().optional(),
  }),
  authCode: z.object({
    componentAppId: z.string(),
    appId: z.string().min(1),
    funcInfo: z.array(z.number().int()).optional(),
    push: z.boolean().optional(),
  }),
  behaviour: z.object({
    appId: z.string().min(1),
    scenario: scenario.optional(),
    openAfterMs: z.number().int().min(0).nullable().optional(),
    endpoints: z.array(z.enum(SCENARIO_ENDPOINTS)).min(1).optional(),
  }),
  liveRoomStatus: z.object({ appId: z.string().min(1), roomId: z.number().int(), liveStatus: z.number().int().min(101).max(107).nullable() }),
  settings: z.object({
    applyLiveDailyLimit: z.number().int().min(0).optional(),
    tokenTtlSeconds: z.number().int().min(1).optional(),
    delaysMs: z.partialRecord(z.enum(WECHAT_ENDPOINT_NAMES as [string, ...string[]]), z.number().int().min(0)).optional(),
    liveQuotas: z.partialRecord(z.enum(LIVE_QUOTA_GROUP_NAMES as [string, ...string[]]), z.number().int().min(0)).optional(),
    goodsAuditDelayMs: z.number().int().min(0).optional(),
  }),
  invalidate: z.object({
    kind: z.enum(['component', 'authorizer']).optional(),
    componentAppId: z.string().optional(),
    appId: z.string().optional(),
  }),
  clock: z.object({ nowMs: z.number().optional(), advanceMs: z.number().optional() }),
  liveGrants: z.object({ paused: z.boolean(), errmsg: z.string().min(1).optional() }),
  liveEvent: z.object({ componentAppId: z.string().optional(), appId: z.string(), openTime: z.string().optional() }),
  message: z.object({
    componentAppId: z.string().optional(),
    appId: z.string(),
    content: z.string().min(1).max(2048).default('hello'),
    fromUserName: z.string().min(1).max(64).default('o_customer_sim'),
  }),
};

function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new SimAdminError(400, `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data;
}

function appIdOf(query: URLSearchParams): string {
  const appId = query.get('appId');
  if (!appId) throw new SimAdminError(400, 'appId: required in the query string');
  return appId;
}

type AdminHandler = (body: unknown, query: URLSearchParams) => unknown;

/** The admin API under /__sim (see README.md); keys are `METHOD path`. */
export function createAdminRoutes(state: SimState, pusher: SimPusher): Map<string, AdminHandler> {
  const component = (componentAppId: string) => {
    const found = state.components.get(componentAppId);
    if (!found) throw new SimAdminError(404, `unknown component ${componentAppId}`);
    return found;
  };

  const routes: Record<string, AdminHandler> = {
    'POST /__sim/components': (body) => {
      const registered = state.registerComponent(parse(schemas.component, body));
      return { componentAppId: registered.componentAppId, ticket: registered.ticket };
    },

    'POST /__sim/tickets': async (body) => {
      const input = parse(schemas.ticket, body);
      const target = component(input.componentAppId);
      target.ticket = input.ticket ?? randomId('ticket@@@');
      const push = (input.push ?? target.authUrl !== null) ? await pusher.pushTicket(target) : null;
      return { ticket: target.ticket, push };
    },

    'POST /__sim/authorizers': (body) => {
      const input = parse(schemas.authorizer, body);
      component(input.componentAppId);
      const authorizer = state.addAuthorizer(input);
      return { appId: authorizer.appId, refreshToken: authorizer.refreshToken, userName: authorizer.userName };
    },

    'POST /__sim/auth-codes': async (body) => {
      const input = parse(schemas.authCode, body);
      const target = component(input.componentAppId);
      const authorizationCode = state.createAuthCode(target.componentAppId, input.appId, input.funcInfo ?? [52]);
      const push = input.push ? await pusher.pushAuthorized(target, input.appId, authorizationCode) : null;
      return { authorizationCode, push };
    },

    'POST /__sim/scenarios': (body) => {
      const input = parse(schemas.behaviour, body);
      const endpoints = input.endpoints ?? ['applyliveinfo'];
      const live = endpoints.filter((e): e is LiveEndpoint => e !== 'applyliveinfo');
      if (live.length > 0) {
        if (!input.scenario) throw new SimAdminError(400, 'scenario: required for live endpoints');
        if (isNotPaid(input.scenario)) throw new SimAdminError(400, 'scenario: not_paid is answered by applyliveinfo only');
        if (input.openAfterMs !== undefined && !endpoints.includes('applyliveinfo')) {
          throw new SimAdminError(400, 'openAfterMs: only with applyliveinfo among the endpoints');
        }
        state.setLiveScenario(input.appId, live, input.scenario);
      }
      if (endpoints.includes('applyliveinfo')) {
        const { endpoints: _endpoints, ...behaviour } = input;
        state.setBehaviour(behaviour);
      }
      return { appId: input.appId, ...state.behaviour(input.appId), endpoints };
    },

    'POST /__sim/settings': (body) => {
      const input = parse(schemas.settings, body);
      state.settings = {
        applyLiveDailyLimit: input.applyLiveDailyLimit ?? state.settings.applyLiveDailyLimit,
        tokenTtlSeconds: input.tokenTtlSeconds ?? state.settings.tokenTtlSeconds,
        delaysMs: input.delaysMs ?? state.settings.delaysMs,
        liveQuotas: { ...state.settings.liveQuotas, ...input.liveQuotas },
        goodsAuditDelayMs: input.goodsAuditDelayMs ?? state.settings.goodsAuditDelayMs,
      };
      return state.settings;
    },
    'GET /__sim/settings': () => state.settings,

    'POST /__sim/tokens/invalidate': (body) => ({ invalidated: state.invalidateTokens(parse(schemas.invalidate, body ?? {})) }),

    'POST /__sim/live-grants': (body) => {
      const input = parse(schemas.liveGrants, body);
      state.liveGrants = { paused: input.paused, errmsg: input.errmsg ?? LIVE_GRANTS_PAUSED_ERRMSG };
      return state.liveGrants;
    },
    'GET /__sim/live-grants': () => state.liveGrants,

    'GET /__sim/live/rooms': (_body, query) => ({ rooms: state.live.roomSnapshots(appIdOf(query)) }),
    'POST /__sim/live/rooms/status': (body) => {
      const input = parse(schemas.liveRoomStatus, body);
      const room = state.live.app(input.appId).rooms.get(input.roomId);
      if (!room) throw new SimAdminError(404, `unknown room ${input.roomId} of ${input.appId}`);
      room.forcedStatus = input.liveStatus;
      return state.live.roomSnapshots(input.appId).find((r) => r.roomId === input.roomId);
    },
    'GET /__sim/live/goods': (_body, query) => ({ goods: state.live.goodsSnapshots(appIdOf(query)) }),

    'GET /__sim/clock': () => state.clockSnapshot(),
    'POST /__sim/clock': (body) => state.setClock(parse(schemas.clock, body)),

    'GET /__sim/counters': () => state.counters.snapshot(),
    'POST /__sim/counters/reset': () => {
      state.counters.reset();
      return { ok: true };
    },

    'POST /__sim/reset': () => {
      pusher.cancelScheduled();
      state.reset();
      return { ok: true };
    },

    'POST /__sim/push/live-event': (body) => {
      const input = parse(schemas.liveEvent, body);
      const authorizer = [...state.authorizers.values()].find(
        (a) => a.appId === input.appId && (input.componentAppId === undefined || a.componentAppId === input.componentAppId),
      );
      if (!authorizer) throw new SimAdminError(404, `unknown authorizer ${input.appId}`);
      return pusher.pushLiveEvent(component(authorizer.componentAppId), authorizer, input.openTime);
    },
    'POST /__sim/push/message': (body) => {
      const input = parse(schemas.message, body);
      const authorizer = [...state.authorizers.values()].find(
        (a) => a.appId === input.appId && (input.componentAppId === undefined || a.componentAppId === input.componentAppId),
      );
      if (!authorizer) throw new SimAdminError(404, `unknown authorizer ${input.appId}`);
      return pusher.pushTextMessage(component(authorizer.componentAppId), authorizer, input.content, input.fromUserName);
    },
  };
  return new Map(Object.entries(routes));
}
