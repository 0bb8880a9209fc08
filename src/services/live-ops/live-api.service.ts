import type { TenantContext } from '../context.js';
import { clampPageSize, type Page } from '../cursor.js';
import { DomainError } from '../errors.js';
import type { ApiQuotaUsage, LiveApiCallView, LiveCalls } from './live-calls.js';

/** What a support person reads per merchant: today's quota per API group, and the audit trail. */
export class LiveApiService {
  constructor(private readonly calls: LiveCalls) {}

  async quota(ctx: TenantContext, appId: string): Promise<ApiQuotaUsage[]> {
    await this.merchant(ctx, appId);
    return this.calls.quota(ctx, appId);
  }

  /** Newest first; the cursor is the call's id. */
  async history(ctx: TenantContext, appId: string, options: { first?: number | null; after?: string | null }): Promise<Page<LiveApiCallView>> {
    await this.merchant(ctx, appId);
    let before: number | undefined;
    if (options.after) {
      before = Number(options.after);
      if (!Number.isSafeInteger(before) || before <= 0) throw new DomainError('INVALID_INPUT', 'after is not a cursor of liveApiCalls.');
    }
    return this.calls.history(ctx, appId, clampPageSize(options.first), before);
  }

  /** The trail of a revoked merchant or one whose live closed stays readable: only the tenant's ownership is required. */
  private async merchant(ctx: TenantContext, appId: string): Promise<void> {
    const refused = await this.calls.checkMerchant(ctx, appId);
    if (refused && (refused.code === 'NOT_FOUND' || refused.code === 'INVALID_APP_ID')) throw DomainError.of(refused);
  }
}
