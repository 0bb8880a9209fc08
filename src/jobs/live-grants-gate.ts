import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../lib/redis.js';

/**
 * WeChat-wide state of new live grants (errcode 268489001 means the platform accepts none for
 * now; accounts that have live keep it). Every further applyliveinfo for a merchant without live
 * would answer the same and spend its quota, so once it is seen the gateway stops calling for
 * every tenant for a pause window, then lets exactly one call through as a probe.
 *
 * Kept in Redis, shared by every worker: a hash with `state` ('open' | 'paused') and `until`
 * (injected-clock ms), plus a probe lock. While the state is unknown or its window has passed,
 * the next call is a probe: one job takes the lock and calls; the others wait for its answer.
 * A probe that is not answered 268489001 opens the gate for a window; one that is answered
 * 268489001 pauses it again; one that got no answer from applyliveinfo (network, tokens) only
 * frees the lock, and the next job probes.
 */

export type GateAdmission =
  /** Call; `probe` holds the lock, and must be settled with `settle`. */
  | { kind: 'call'; probe: string | null }
  /** Paused until `untilMs` (injected clock). */
  | { kind: 'paused'; untilMs: number; errmsg: string }
  /** Another job's probe is in flight; ask again shortly. */
  | { kind: 'probing' };

export type ProbeResult = 'open' | 'paused' | 'inconclusive';

export interface LiveGrantsStatus {
  paused: boolean;
  /** While paused: when the next probe may go (ISO). */
  pausedUntil: string | null;
  /** WeChat's errmsg of the answer that paused it. */
  errmsg: string | null;
  /** When the current pause began (ISO). */
  since: string | null;
}

export interface LiveGrantsGateOptions {
  prefix: string;
  /** How long a pause lasts before a probe (LIVE_GRANTS_PAUSE_MINUTES; default 1 h). */
  pauseMs?: number;
  /** How long a probe's answer keeps the gate open before the next probe (default: pauseMs). */
  openMs?: number;
  /** A probe lock outlives a probe that died with its worker (real time; default 60 s). */
  probeLockMs?: number;
  /** How long an inconclusive first probe opens the gate before the next probe (default 60 s). */
  inconclusiveOpenMs?: number;
}

const ADMIT = `
local state = redis.call('HGET', KEYS[1], 'state')
local untilMs = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
local now = tonumber(ARGV[1])
if state == 'open' and now < untilMs then return {'call', ''} end
if state == 'paused' and now < untilMs then return {'paused', tostring(untilMs), redis.call('HGET', KEYS[1], 'errmsg') or ''} end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return {'call', ARGV[2]} end
-- A job taken back after its worker died finds its own probe still running: it goes on with it.
if redis.call('GET', KEYS[2]) == ARGV[2] then return {'call', ARGV[2]} end
return {'probing', ''}`;

// Records a result (a probe's, or any call's 268489001) and frees the lock when the token is ours.
// Returns 1 when a pause began, 2 when a pause went on (a probe answered 268489001 again), else 0.
const SETTLE = `
local previous = redis.call('HGET', KEYS[1], 'state')
local result = 0
if ARGV[1] == 'paused' then
  if previous ~= 'paused' then
    result = 1
    redis.call('HSET', KEYS[1], 'since', ARGV[2])
  else
    result = 2
  end
  redis.call('HSET', KEYS[1], 'state', 'paused', 'until', ARGV[3], 'errmsg', ARGV[5])
elseif ARGV[1] == 'open' then
  redis.call('HSET', KEYS[1], 'state', 'open', 'until', ARGV[4])
  redis.call('HDEL', KEYS[1], 'since', 'errmsg')
elseif ARGV[1] == 'inconclusive' and previous ~= 'paused' and ARGV[6] ~= '' and redis.call('GET', KEYS[2]) == ARGV[6] then
  -- A probe that learned nothing (WeChat down, a token refused) while nothing is known: calls go
  -- on as before for a short while, rather than one at a time through probes during an outage.
  redis.call('HSET', KEYS[1], 'state', 'open', 'until', ARGV[7])
end
if ARGV[6] ~= '' and redis.call('GET', KEYS[2]) == ARGV[6] then redis.call('DEL', KEYS[2]) end
return result`;

/** What a settled result did to the gate. */
export type SettleEffect = 'pause-began' | 'pause-extended' | 'none';

export class LiveGrantsGate {
  readonly pauseMs: number;
  private readonly openMs: number;
  private readonly probeLockMs: number;
  private readonly inconclusiveOpenMs: number;
  private readonly keys: [state: string, lock: string];

  constructor(
    private readonly redis: RedisClient,
    options: LiveGrantsGateOptions,
  ) {
    this.pauseMs = options.pauseMs ?? 3_600_000;
    this.openMs = options.openMs ?? this.pauseMs;
    this.probeLockMs = options.probeLockMs ?? 60_000;
    this.inconclusiveOpenMs = options.inconclusiveOpenMs ?? 60_000;
    // One hash tag: both keys on one Cluster slot. WeChat-wide, so not per tenant.
    const base = `{${options.prefix}:live-grants}`;
    this.keys = [`${base}:state`, `${base}:probe`];
  }

  /** `probeId` names the caller (a job id), so a job retried after its worker died resumes its own probe. */
  async admit(nowMs: number, probeId: string = randomBytes(8).toString('hex')): Promise<GateAdmission> {
    const token = probeId;
    const [kind, a, b] = (await this.redis.eval(ADMIT, 2, ...this.keys, String(nowMs), token, String(this.probeLockMs))) as string[];
    if (kind === 'paused') return { kind, untilMs: Number(a), errmsg: b ?? '' };
    if (kind === 'probing') return { kind };
    return { kind: 'call', probe: a ? a : null };
  }

  /**
   * Records what a call learned. `probe` is the admission's token (null for an ordinary call,
   * which only ever reports 'paused').
   */
  async settle(probe: string | null, result: ProbeResult, nowMs: number, errmsg = ''): Promise<SettleEffect> {
    if (probe === null && result !== 'paused') return 'none';
    const effect = await this.redis.eval(
      SETTLE,
      2,
      ...this.keys,
      result,
      String(nowMs),
      String(nowMs + this.pauseMs),
      String(nowMs + this.openMs),
      errmsg,
      probe ?? '',
      String(nowMs + this.inconclusiveOpenMs),
    );
    return effect === 1 ? 'pause-began' : effect === 2 ? 'pause-extended' : 'none';
  }

  async status(nowMs: number): Promise<LiveGrantsStatus> {
    const [state, until, errmsg, since] = await this.redis.hmget(this.keys[0], 'state', 'until', 'errmsg', 'since');
    const untilMs = Number(until ?? 0);
    const paused = state === 'paused' && untilMs > nowMs;
    return {
      paused,
      pausedUntil: paused ? new Date(untilMs).toISOString() : null,
      errmsg: paused ? (errmsg ?? null) : null,
      since: paused && since ? new Date(Number(since)).toISOString() : null,
    };
  }
}
