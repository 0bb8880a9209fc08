import type { Clock } from '../lib/clock.js';
import { isAppId } from './app-id.js';
import type { TenantContext } from './context.js';
import { DomainError } from './errors.js';
import type { TenantsService } from './tenants.service.js';

/** A tenant's quota settings as the limiter reads them (a `TenantSummary` fits). */
export interface QuotaLimits {
  id: string;
  dailyQuotaPerApp: number;
  dailyQuotaPerTenant: number | null;
  callsPerSecond: number;
}

export interface QuotaUsage {
  dailyLimit: number;
  used: number;
  /** Calls left for the appid today: 0 once WeChat answered 45009 or the tenant's day is spent. */
  remaining: number;
  /** The next 00:00 UTC+8, ISO. */
  resetsAt: string;
  tenantDailyLimit: number | null;
  tenantUsed: number;
}

/** Whether WeChat grants new live permissions now (`LiveGrantsGate` in src/jobs implements it). */
export interface LiveGrantsReader {
  status(nowMs: number): Promise<{ paused: boolean; pausedUntil: string | null; errmsg: string | null }>;
}

/** The read side of the apply pipeline's limiter (`QuotaLimiter` in src/jobs implements it). */
export interface QuotaReader {
  getQuota(tenant: QuotaLimits, appId: string, nowMs: number): Promise<QuotaUsage>;
}

export interface AppQuota extends QuotaUsage {
  appId: string;
  liveGrantsPaused: boolean;
  liveGrantsPausedUntil: string | null;
  liveGrantsErrmsg: string | null;
}

/** Today's quota for one of the caller's merchants: the tenant's settings plus the limiter's counters. */
export class QuotaService {
  constructor(private readonly deps: { tenants: TenantsService; reader: QuotaReader; liveGrants: LiveGrantsReader; clock: Clock }) {}

  async forApp(ctx: TenantContext, appId: string): Promise<AppQuota> {
    if (!isAppId(appId)) throw new DomainError('INVALID_APP_ID', `"${appId}" is not an app id.`);
    const tenant = await this.deps.tenants.current(ctx);
    const now = this.deps.clock.now();
    const [usage, grants] = await Promise.all([this.deps.reader.getQuota(tenant, appId, now), this.deps.liveGrants.status(now)]);
    return { appId, ...usage, liveGrantsPaused: grants.paused, liveGrantsPausedUntil: grants.pausedUntil, liveGrantsErrmsg: grants.errmsg };
  }
}
