import type {
  AppBehaviourInput,
  AuthorizerRegistration,
  ClockInput,
  ClockSnapshot,
  ComponentRegistration,
  CountersSnapshot,
  LiveGrants,
  PushRecord,
  ScenarioEndpoint,
  SimLiveGoodsSnapshot,
  SimLiveRoomSnapshot,
  SimScenario,
  SimSettings,
  SimSettingsUpdate,
} from './types.js';

export class SimulatorAdminError extends Error {
  override readonly name = 'SimulatorAdminError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A typed client of the simulator's admin API (tests, the demo and benchmarks use it). */
export class SimulatorAdmin {
  private readonly base: string;

  constructor(baseUrl: string) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  registerComponent(input: ComponentRegistration): Promise<{ componentAppId: string; ticket: string }> {
    return this.call('POST', '/__sim/components', input);
  }

  /** Rotate the component's verify ticket (to `ticket`, or a random one) and push it when it has an auth URL. */
  issueTicket(input: { componentAppId: string; ticket?: string; push?: boolean }): Promise<{ ticket: string; push: PushRecord | null }> {
    return this.call('POST', '/__sim/tickets', input);
  }

  addAuthorizer(input: AuthorizerRegistration): Promise<{ appId: string; refreshToken: string; userName: string }> {
    return this.call('POST', '/__sim/authorizers', input);
  }

  /** An authorization code for `api_query_auth`; with `push`, also the `authorized` push to the auth URL. */
  createAuthCode(input: {
    componentAppId: string;
    appId: string;
    funcInfo?: number[];
    push?: boolean;
  }): Promise<{ authorizationCode: string; push: PushRecord | null }> {
    return this.call('POST', '/__sim/auth-codes', input);
  }

  /**
   * applyliveinfo's behaviour for one app id ('*' for the default) and when the admin "accepts";
   * with `endpoints`, the scenario of those endpoints instead (live ones share one `times` count).
   */
  setBehaviour(input: AppBehaviourInput): Promise<{ appId: string; scenario: SimScenario; openAfterMs: number | null; endpoints: ScenarioEndpoint[] }> {
    return this.call('POST', '/__sim/scenarios', input);
  }

  setScenario(appId: string, scenario: SimScenario): Promise<{ appId: string; scenario: SimScenario; openAfterMs: number | null }> {
    return this.setBehaviour({ appId, scenario });
  }

  /** Answer `scenario` for these live endpoints of `appId` (not applyliveinfo); `{kind:'accept'}` clears it. */
  async setLiveScenario(appId: string, endpoints: ScenarioEndpoint[], scenario: SimScenario): Promise<void> {
    await this.setBehaviour({ appId, endpoints, scenario });
  }

  /** Rooms of one authorizer with the status WeChat answers now. */
  async liveRooms(appId: string): Promise<SimLiveRoomSnapshot[]> {
    return (await this.call<{ rooms: SimLiveRoomSnapshot[] }>('GET', `/__sim/live/rooms?appId=${encodeURIComponent(appId)}`)).rooms;
  }

  /** Force a room's live_status (104 banned, 105 paused, 106 error, 107 expired...); null gives it back to the clock. */
  setLiveRoomStatus(appId: string, roomId: number, liveStatus: number | null): Promise<SimLiveRoomSnapshot> {
    return this.call('POST', '/__sim/live/rooms/status', { appId, roomId, liveStatus });
  }

  /** Goods of one authorizer with their audit status now. */
  async liveGoods(appId: string): Promise<SimLiveGoodsSnapshot[]> {
    return (await this.call<{ goods: SimLiveGoodsSnapshot[] }>('GET', `/__sim/live/goods?appId=${encodeURIComponent(appId)}`)).goods;
  }

  updateSettings(input: SimSettingsUpdate): Promise<SimSettings> {
    return this.call('POST', '/__sim/settings', input);
  }

  getSettings(): Promise<SimSettings> {
    return this.call('GET', '/__sim/settings');
  }

  /**
   * Pause (or resume) new live grants WeChat-wide: while paused, applyliveinfo answers errcode
   * 268489001 with `errmsg` (a default one when omitted). Reset resumes them.
   */
  setLiveGrantsPaused(paused: boolean, errmsg?: string): Promise<LiveGrants> {
    return this.call('POST', '/__sim/live-grants', errmsg === undefined ? { paused } : { paused, errmsg });
  }

  getLiveGrants(): Promise<LiveGrants> {
    return this.call('GET', '/__sim/live-grants');
  }

  invalidateTokens(filter: { kind?: 'component' | 'authorizer'; componentAppId?: string; appId?: string } = {}): Promise<{ invalidated: number }> {
    return this.call('POST', '/__sim/tokens/invalidate', filter);
  }

  getClock(): Promise<ClockSnapshot> {
    return this.call('GET', '/__sim/clock');
  }

  setClock(input: ClockInput): Promise<ClockSnapshot> {
    return this.call('POST', '/__sim/clock', input);
  }

  advanceClock(advanceMs: number): Promise<ClockSnapshot> {
    return this.setClock({ advanceMs });
  }

  counters(): Promise<CountersSnapshot> {
    return this.call('GET', '/__sim/counters');
  }

  resetCounters(): Promise<{ ok: true }> {
    return this.call('POST', '/__sim/counters/reset');
  }

  /** Forget everything: components, authorizers, tokens, scenarios, quota, counters, clock shift. */
  reset(): Promise<{ ok: true }> {
    return this.call('POST', '/__sim/reset');
  }

  /** Push wxa_live_apply_event for `appId` now, whether or not anyone applied. */
  pushLiveEvent(input: { appId: string; componentAppId?: string; openTime?: string }): Promise<PushRecord> {
    return this.call('POST', '/__sim/push/live-event', input);
  }

  /** Push a customer's text message to `appId`'s message URL now (what a customer-service backend receives). */
  pushMessage(input: { appId: string; componentAppId?: string; content?: string; fromUserName?: string }): Promise<PushRecord> {
    return this.call('POST', '/__sim/push/message', input);
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) } : {}),
    });
    const payload = (await response.json()) as T & { error?: string };
    if (!response.ok) throw new SimulatorAdminError(response.status, payload.error ?? `HTTP ${response.status}`);
    return payload;
  }
}
