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

/** The read side of the apply pipeline's limiter (`QuotaLimiter` in src/jobs implements it). */
export interface QuotaReader {
  getQuota(tenant: QuotaLimits, appId: string, nowMs: number): Promise<QuotaUsage>;
}

export interface AppQuota extends QuotaUsage {
  appId: string;
}

/** Today's quota for one of the caller's merchants: the tenant's settings plus the limiter's counters. */
export class QuotaService {
  constructor(private readonly deps: { tenants: TenantsService; reader: QuotaReader; clock: Clock }) {}

  async forApp(ctx: TenantContext, appId: string): Promise<AppQuota> {
    if (!isAppId(appId)) throw new DomainError('INVALID_APP_ID', `"${appId}" is not an app id.`);
    const tenant = await this.deps.tenants.current(ctx);
    const usage = await this.deps.reader.getQuota(tenant, appId, this.deps.clock.now());
    return { appId, ...usage };
  }
}
