import { randomBytes } from 'node:crypto';
import type { Clock } from '../../lib/clock.js';
import { quotaDay } from '../../lib/quota-day.js';
import { LIVE_QUOTA_GROUPS, type LiveEndpoint } from '../endpoints.js';
import { MsgCrypt } from '../wire/msg-crypt.js';
import { SimCounters } from './counters.js';
import { LiveState } from './live-state.js';
import type {
  AppBehaviourInput,
  AuthorizerRegistration,
  ClockInput,
  ClockSnapshot,
  ComponentRegistration,
  LiveGrants,
  SimScenario,
  SimSettings,
  SimSettingsInput,
} from './types.js';

export interface SimComponent {
  componentAppId: string;
  componentAppSecret: string;
  token: string;
  authUrl: string | null;
  messageUrlTemplate: string | null;
  ticket: string;
  crypt: MsgCrypt;
}

export interface SimAuthorizer {
  componentAppId: string;
  appId: string;
  refreshToken: string;
  permissionSets: number[];
  rotateRefreshToken: boolean;
  nickName: string;
  /** The `gh_...` original id, ToUserName of its pushes. */
  userName: string;
}

export interface SimToken {
  kind: 'component' | 'authorizer';
  componentAppId: string;
  /** The authorizer's app id for authorizer tokens. */
  appId: string | null;
  expiresAtMs: number;
}

interface AuthCode {
  componentAppId: string;
  appId: string;
  permissionSets: number[];
  expiresAtMs: number;
}

interface Behaviour {
  scenario: SimScenario;
  openAfterMs: number | null;
}

/** A scenario set for live endpoints; every endpoint it was set for shares one `times` count. */
export interface LiveScenarioEntry {
  endpoints: LiveEndpoint[];
  scenario: SimScenario;
  fired: number;
}

export type TokenCheck = { ok: true; token: SimToken } | { ok: false; errcode: number; errmsg: string };

const DEFAULT_BEHAVIOUR: Behaviour = { scenario: { kind: 'accept' }, openAfterMs: null };

/** The errmsg of a paused applyliveinfo when the admin call names none. */
export const LIVE_GRANTS_PAUSED_ERRMSG = 'live broadcast permission is under maintenance, no new applications are accepted for now';

const OPEN_LIVE_GRANTS: LiveGrants = { paused: false, errmsg: LIVE_GRANTS_PAUSED_ERRMSG };

export function randomId(prefix: string, bytes = 24): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}

/** Everything the simulator knows; WeChat's rules live in the route handlers that use it. */
export class SimState {
  readonly counters = new SimCounters();
  readonly clock: Clock;
  settings: SimSettings;
  components = new Map<string, SimComponent>();
  /** By `${componentAppId} ${appId}`: one Mini Program may authorize several components. */
  authorizers = new Map<string, SimAuthorizer>();
  tokens = new Map<string, SimToken>();
  authCodes = new Map<string, AuthCode>();
  liveGrants: LiveGrants = { ...OPEN_LIVE_GRANTS };
  private behaviours = new Map<string, Behaviour>();
  /** How often the counted scenario (busy, errcode) of each app id has fired since it was set. */
  private fired = new Map<string, number>();
  private applyCalls = new Map<string, { day: string; count: number }>();
  /** By `${appId} ${endpoint}` ('*' for the default); several keys may share one entry. */
  private liveScenarios = new Map<string, LiveScenarioEntry>();
  private offsetMs = 0;
  private readonly initialSettings: SimSettings;
  /** Rooms, goods, roles and media of the live management endpoints, per authorizer app id. */
  readonly live: LiveState;

  constructor(
    private readonly baseClock: Clock,
    initialSettings: SimSettingsInput,
  ) {
    this.initialSettings = {
      ...initialSettings,
      liveQuotas: { ...LIVE_QUOTA_GROUPS, ...initialSettings.liveQuotas },
      goodsAuditDelayMs: initialSettings.goodsAuditDelayMs ?? 60_000,
    };
    this.settings = structuredClone(this.initialSettings);
    this.clock = { now: () => this.baseClock.now() + this.offsetMs };
    this.live = new LiveState(this.clock, () => this.settings);
  }

  registerComponent(input: ComponentRegistration): SimComponent {
    const component: SimComponent = {
      componentAppId: input.componentAppId,
      componentAppSecret: input.componentAppSecret,
      token: input.token,
      authUrl: input.authUrl ?? null,
      messageUrlTemplate: input.messageUrlTemplate ?? null,
      ticket: input.ticket ?? randomId('ticket@@@'),
      crypt: new MsgCrypt({ token: input.token, encodingAesKey: input.encodingAesKey, appId: input.componentAppId }),
    };
    this.components.set(component.componentAppId, component);
    return component;
  }

  addAuthorizer(input: AuthorizerRegistration): SimAuthorizer {
    const authorizer: SimAuthorizer = {
      componentAppId: input.componentAppId,
      appId: input.appId,
      refreshToken: input.refreshToken ?? randomId('refreshtoken@@@'),
      permissionSets: input.funcInfo ?? [52],
      rotateRefreshToken: input.rotateRefreshToken ?? false,
      nickName: input.nickName ?? `Mini Program ${input.appId}`,
      userName: `gh_${input.appId.slice(2, 14)}`,
    };
    this.authorizers.set(authorizerKey(input.componentAppId, input.appId), authorizer);
    return authorizer;
  }

  authorizer(componentAppId: string, appId: string): SimAuthorizer | undefined {
    return this.authorizers.get(authorizerKey(componentAppId, appId));
  }

  createAuthCode(componentAppId: string, appId: string, permissionSets: number[]): string {
    const code = randomId('queryauthcode@@@');
    this.authCodes.set(code, { componentAppId, appId, permissionSets, expiresAtMs: this.clock.now() + 3600_000 });
    return code;
  }

  /** A single-use authorization code, if it exists and has not expired. */
  takeAuthCode(code: string): AuthCode | undefined {
    const entry = this.authCodes.get(code);
    this.authCodes.delete(code);
    return entry && this.clock.now() < entry.expiresAtMs ? entry : undefined;
  }

  issueToken(kind: SimToken['kind'], componentAppId: string, appId: string | null): { token: string; expiresIn: number } {
    const token = randomId(kind === 'component' ? 'ctk_' : 'atk_', 48);
    const expiresIn = this.settings.tokenTtlSeconds;
    this.tokens.set(token, { kind, componentAppId, appId, expiresAtMs: this.clock.now() + expiresIn * 1000 });
    return { token, expiresIn };
  }

  checkToken(token: string | null, kind: SimToken['kind']): TokenCheck {
    if (token === null || token === '') return { ok: false, errcode: 41001, errmsg: 'access_token missing' };
    const entry = this.tokens.get(token);
    if (!entry || entry.kind !== kind) {
      return { ok: false, errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest' };
    }
    if (this.clock.now() >= entry.expiresAtMs) return { ok: false, errcode: 42001, errmsg: 'access_token expired' };
    return { ok: true, token: entry };
  }

  /** Forget matching tokens, so their next use answers 40001. */
  invalidateTokens(filter: { kind?: SimToken['kind']; componentAppId?: string; appId?: string }): number {
    let count = 0;
    for (const [token, entry] of this.tokens) {
      if (filter.kind !== undefined && entry.kind !== filter.kind) continue;
      if (filter.componentAppId !== undefined && entry.componentAppId !== filter.componentAppId) continue;
      if (filter.appId !== undefined && entry.appId !== filter.appId) continue;
      this.tokens.delete(token);
      count++;
    }
    return count;
  }

  setBehaviour(input: AppBehaviourInput): void {
    const current = this.behaviours.get(input.appId) ?? DEFAULT_BEHAVIOUR;
    this.behaviours.set(input.appId, {
      scenario: input.scenario ?? current.scenario,
      openAfterMs: input.openAfterMs === undefined ? current.openAfterMs : input.openAfterMs,
    });
    if (input.appId === '*') this.fired.clear();
    else this.fired.delete(input.appId);
  }

  /** Answer `scenario` for these live endpoints of `appId` ('*': every app id without its own). */
  setLiveScenario(appId: string, endpoints: LiveEndpoint[], scenario: SimScenario): LiveScenarioEntry {
    const entry: LiveScenarioEntry = { endpoints, scenario, fired: 0 };
    for (const endpoint of endpoints) this.liveScenarios.set(`${appId} ${endpoint}`, entry);
    return entry;
  }

  liveScenario(appId: string, endpoint: LiveEndpoint): LiveScenarioEntry | undefined {
    return this.liveScenarios.get(`${appId} ${endpoint}`) ?? this.liveScenarios.get(`* ${endpoint}`);
  }

  /** Like `consume`, for a live scenario's own count. */
  consumeLive(entry: LiveScenarioEntry, times: number | 'forever'): boolean {
    if (times === 'forever') return true;
    if (entry.fired >= times) return false;
    entry.fired++;
    return true;
  }

  behaviour(appId: string): Behaviour {
    return this.behaviours.get(appId) ?? this.behaviours.get('*') ?? DEFAULT_BEHAVIOUR;
  }

  /** Whether a scenario limited to `times` calls fires for this call (and count it if so). */
  consume(appId: string, times: number | 'forever'): boolean {
    if (times === 'forever') return true;
    const fired = this.fired.get(appId) ?? 0;
    if (fired >= times) return false;
    this.fired.set(appId, fired + 1);
    return true;
  }

  /** Count one applyliveinfo call in the current quota day (UTC+8); returns the day's count. */
  countApplyLive(appId: string): number {
    const day = quotaDay(this.clock.now());
    const entry = this.applyCalls.get(appId);
    if (!entry || entry.day !== day) {
      this.applyCalls.set(appId, { day, count: 1 });
      return 1;
    }
    return ++entry.count;
  }

  applyLiveUsed(appId: string): number {
    const entry = this.applyCalls.get(appId);
    return entry && entry.day === quotaDay(this.clock.now()) ? entry.count : 0;
  }

  setClock(input: ClockInput): ClockSnapshot {
    if (input.nowMs !== undefined) this.offsetMs = input.nowMs - this.baseClock.now();
    if (input.advanceMs !== undefined) this.offsetMs += input.advanceMs;
    return this.clockSnapshot();
  }

  clockSnapshot(): ClockSnapshot {
    const nowMs = this.clock.now();
    return { nowMs, quotaDay: quotaDay(nowMs) };
  }

  /** Back to a fresh simulator (settings as started, clock offset dropped). */
  reset(): void {
    this.settings = structuredClone(this.initialSettings);
    this.components.clear();
    this.authorizers.clear();
    this.tokens.clear();
    this.authCodes.clear();
    this.liveGrants = { ...OPEN_LIVE_GRANTS };
    this.behaviours.clear();
    this.fired.clear();
    this.applyCalls.clear();
    this.liveScenarios.clear();
    this.live.clear();
    this.offsetMs = 0;
    this.counters.reset();
  }
}

function authorizerKey(componentAppId: string, appId: string): string {
  return `${componentAppId} ${appId}`;
}
