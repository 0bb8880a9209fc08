import { and, desc, eq, isNull, lt, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { type LiveGoodsAuditStatus, liveGoods } from '../../db/tables.js';
import { inTenant } from '../../db/tenant-scope.js';
import type { Clock } from '../../lib/clock.js';
import { GOODS_AUDIT_STATUS_CODES } from '../../wechat/endpoints.js';
import type { GoodsFields, WechatGoods } from '../../wechat/live/live-client.js';
import type { TenantContext } from '../context.js';
import { clampPageSize, type Page } from '../cursor.js';
import { DomainError, type UserError, userError } from '../errors.js';
import type { CallResult, LiveCalls } from './live-calls.js';
import type { LiveChangeSink } from './live-changes.js';
import { goodsView, type LiveGoodsView, mirrorGoods, removeGoods } from './live-mirror.js';
import { GOODS_RULES, goodsNameError, priceErrors } from './live-rules.js';

/** Goods per getapproved page (WeChat's maximum). */
const GOODS_PAGE_SIZE = 100;

const AUDIT_CODE_OF = Object.fromEntries(Object.entries(GOODS_AUDIT_STATUS_CODES).map(([code, status]) => [status, Number(code)])) as Record<
  LiveGoodsAuditStatus,
  number
>;

export interface AddLiveGoodsInput {
  appId: string;
  name: string;
  coverMediaId: string;
  /** The Mini Program page the good opens, e.g. pages/goods/detail?id=1. */
  url: string;
  priceType: 1 | 2 | 3;
  price: number;
  price2?: number | null;
  /** When the page belongs to another Mini Program. */
  thirdPartyAppid?: string | null;
}

export interface UpdateLiveGoodsInput {
  appId: string;
  goodsId: number;
  name?: string | null;
  coverMediaId?: string | null;
  url?: string | null;
  priceType?: 1 | 2 | 3 | null;
  price?: number | null;
  price2?: number | null;
}

export interface GoodsResult {
  goods: LiveGoodsView | null;
  userErrors: UserError[];
}

export interface GoodsListOptions {
  auditStatus?: LiveGoodsAuditStatus | null;
  first?: number | null;
  after?: string | null;
  refresh?: boolean | null;
}

export interface LiveGoodsDeps {
  db: Db;
  clock: Clock;
  calls: LiveCalls;
  changes: LiveChangeSink;
}

const at = (ctx: TenantContext, appId: string) => ({ tenantId: ctx.tenantId, appId });

/**
 * A merchant's goods warehouse: the mirror for reads, WeChat for writes, with the audit rules
 * said before a call is spent (an auditing good is frozen, an approved one changes only its price).
 */
export class LiveGoodsService {
  constructor(private readonly deps: LiveGoodsDeps) {}

  /** Newest goods first (goods ids grow); `refresh` reads every audit status through WeChat first (goods_read quota). */
  async list(ctx: TenantContext, appId: string, options: GoodsListOptions = {}): Promise<Page<LiveGoodsView>> {
    if (options.refresh) {
      const refused = await this.deps.calls.checkMerchant(ctx, appId);
      if (refused) throw DomainError.of(refused);
      const synced = await this.sync(ctx, appId);
      if (!synced.ok) throw DomainError.of(synced.error);
    }
    const first = clampPageSize(options.first);
    const where: SQL[] = [eq(liveGoods.tenantId, ctx.tenantId), eq(liveGoods.appId, appId), isNull(liveGoods.goneAt)];
    if (options.auditStatus) where.push(eq(liveGoods.auditStatus, options.auditStatus));
    if (options.after) {
      const before = Number(Buffer.from(options.after, 'base64url').toString('utf8'));
      if (!Number.isSafeInteger(before) || before <= 0) throw new DomainError('INVALID_INPUT', 'after is not a cursor of liveGoods.');
      where.push(lt(liveGoods.goodsId, before));
    }
    const rows = await inTenant(this.deps.db, ctx.tenantId, (db) =>
      db
        .select()
        .from(liveGoods)
        .where(and(...where))
        .orderBy(desc(liveGoods.goodsId))
        .limit(first + 1),
    );
    return { items: rows.slice(0, first).map(goodsView), hasNextPage: rows.length > first };
  }

  static cursorOf(goods: { goodsId: number }): string {
    return Buffer.from(String(goods.goodsId)).toString('base64url');
  }

  async get(ctx: TenantContext, appId: string, goodsId: number): Promise<LiveGoodsView | null> {
    const [row] = await inTenant(this.deps.db, ctx.tenantId, (db) =>
      db
        .select()
        .from(liveGoods)
        .where(and(eq(liveGoods.tenantId, ctx.tenantId), eq(liveGoods.appId, appId), eq(liveGoods.goodsId, goodsId))),
    );
    return row ? goodsView(row) : null;
  }

  /** Every good of every audit status through WeChat (getapproved, 100 a page), into the mirror; changes become events. */
  async sync(ctx: TenantContext, appId: string, operation = 'liveGoods.refresh'): Promise<CallResult<{ goods: LiveGoodsView[]; calls: number }>> {
    const listed: WechatGoods[] = [];
    let calls = 0;
    for (const status of Object.values(AUDIT_CODE_OF)) {
      for (let offset = 0; ; offset += GOODS_PAGE_SIZE) {
        calls += 1;
        const page = await this.deps.calls.call(
          ctx,
          appId,
          { endpoint: 'goods_approved', operation, request: { status, offset, limit: GOODS_PAGE_SIZE } },
          (c, token) => c.goodsByStatus(token, status, offset, GOODS_PAGE_SIZE),
        );
        if (!page.ok) return page;
        listed.push(...page.value.goods.map((g) => ({ ...g, auditStatus: status })));
        if (page.value.goods.length === 0 || offset + page.value.goods.length >= page.value.total) break;
      }
    }
    const changes = await inTenant(this.deps.db, ctx.tenantId, (db) => mirrorGoods(db, this.deps.clock, at(ctx, appId), listed));
    await this.deps.changes.announce(ctx.tenantId, changes);
    return { ok: true, value: { goods: changes.goods, calls } };
  }

  /** goods/add: WeChat keeps the good and submits it for audit at once; its goodsId and auditId are kept. */
  async add(ctx: TenantContext, input: AddLiveGoodsInput): Promise<GoodsResult> {
    const merchant = await this.deps.calls.checkMerchant(ctx, input.appId, ['input', 'appId']);
    if (merchant) return { goods: null, userErrors: [merchant] };
    const errors = [...priceErrors(input), ...fieldErrors(input)];
    const name = goodsNameError(input.name);
    if (name) errors.unshift(name);
    if (errors.length > 0) return { goods: null, userErrors: errors };
    const fields: GoodsFields = {
      coverImgUrl: input.coverMediaId,
      name: input.name,
      priceType: input.priceType,
      price: input.price,
      url: input.url,
      ...(input.priceType === 1 ? {} : { price2: input.price2 ?? 0 }),
      ...(input.thirdPartyAppid ? { thirdPartyAppid: input.thirdPartyAppid } : {}),
    };
    const added = await this.deps.calls.call(ctx, input.appId, { endpoint: 'goods_add', operation: 'addLiveGoods', request: { ...fields } }, (c, token) =>
      c.addGoods(token, fields),
    );
    if (!added.ok) return { goods: null, userErrors: [added.error] };
    const goods = await this.mirrorOne(ctx, input.appId, {
      goodsId: added.value.goodsId,
      auditId: added.value.auditId,
      name: input.name,
      coverImgUrl: input.coverMediaId,
      url: input.url,
      priceType: input.priceType,
      price: input.price,
      price2: input.price2 ?? 0,
      auditStatus: AUDIT_CODE_OF.AUDITING,
    });
    return { goods, userErrors: [] };
  }

  /** Withdraws a good from audit (it becomes NOT_SUBMITTED and may be edited). */
  async resetAudit(ctx: TenantContext, appId: string, goodsId: number): Promise<GoodsResult> {
    const known = await this.known(ctx, appId, goodsId);
    if (!known.ok) return { goods: null, userErrors: [known.error] };
    const goods = known.value;
    if (goods.auditStatus !== 'AUDITING' || goods.auditId === null) {
      return {
        goods,
        userErrors: [userError('LIVE_GOODS_AUDIT_STATE', `Good ${goodsId} is ${goods.auditStatus}: only an auditing good can be withdrawn.`, ['goodsId'])],
      };
    }
    const auditId = goods.auditId;
    const reset = await this.deps.calls.call(
      ctx,
      appId,
      { endpoint: 'goods_reset_audit', operation: 'resetLiveGoodsAudit', request: { goodsId, auditId } },
      (c, token) => c.resetAudit(token, goodsId, auditId),
    );
    if (!reset.ok) return { goods, userErrors: [reset.error] };
    return { goods: await this.mirrorOne(ctx, appId, { ...wechatOf(goods), auditStatus: AUDIT_CODE_OF.NOT_SUBMITTED }), userErrors: [] };
  }

  /** Submits a good not submitted (or rejected) for audit again: a new auditId. */
  async resubmitAudit(ctx: TenantContext, appId: string, goodsId: number): Promise<GoodsResult> {
    const known = await this.known(ctx, appId, goodsId);
    if (!known.ok) return { goods: null, userErrors: [known.error] };
    const goods = known.value;
    if (goods.auditStatus === 'AUDITING' || goods.auditStatus === 'APPROVED') {
      return {
        goods,
        userErrors: [
          userError('LIVE_GOODS_AUDIT_STATE', `Good ${goodsId} is ${goods.auditStatus}: only a good not submitted or rejected can be submitted.`, ['goodsId']),
        ],
      };
    }
    const audited = await this.deps.calls.call(ctx, appId, { endpoint: 'goods_audit', operation: 'resubmitLiveGoodsAudit', request: { goodsId } }, (c, token) =>
      c.submitAudit(token, goodsId),
    );
    if (!audited.ok) return { goods, userErrors: [audited.error] };
    return {
      goods: await this.mirrorOne(ctx, appId, { ...wechatOf(goods), auditId: audited.value.auditId, auditStatus: AUDIT_CODE_OF.AUDITING }),
      userErrors: [],
    };
  }

  async delete(ctx: TenantContext, appId: string, goodsId: number): Promise<{ deletedGoodsId: number | null; userErrors: UserError[] }> {
    const known = await this.known(ctx, appId, goodsId);
    if (!known.ok) return { deletedGoodsId: null, userErrors: [known.error] };
    if (known.value.auditStatus === 'AUDITING') {
      return {
        deletedGoodsId: null,
        userErrors: [userError('LIVE_GOODS_AUDIT_STATE', `Good ${goodsId} is under audit: withdraw it first (resetLiveGoodsAudit).`, ['goodsId'])],
      };
    }
    const deleted = await this.deps.calls.call(ctx, appId, { endpoint: 'goods_delete', operation: 'deleteLiveGoods', request: { goodsId } }, (c, token) =>
      c.deleteGoods(token, goodsId),
    );
    if (!deleted.ok) return { deletedGoodsId: null, userErrors: [deleted.error] };
    const changes = await inTenant(this.deps.db, ctx.tenantId, (db) => removeGoods(db, this.deps.clock, at(ctx, appId), goodsId));
    await this.deps.changes.announce(ctx.tenantId, changes);
    return { deletedGoodsId: goodsId, userErrors: [] };
  }

  /** goods/update: an approved good may change only its price; an auditing one nothing. */
  async update(ctx: TenantContext, input: UpdateLiveGoodsInput): Promise<GoodsResult> {
    const known = await this.known(ctx, input.appId, input.goodsId, ['input', 'goodsId']);
    if (!known.ok) return { goods: null, userErrors: [known.error] };
    const goods = known.value;
    const nonPrice = (['name', 'coverMediaId', 'url'] as const).filter((k) => input[k] != null);
    if (goods.auditStatus === 'AUDITING') {
      return {
        goods,
        userErrors: [
          userError('LIVE_GOODS_AUDIT_STATE', `Good ${goods.goodsId} is under audit: withdraw it first (resetLiveGoodsAudit).`, ['input', 'goodsId']),
        ],
      };
    }
    if (goods.auditStatus === 'APPROVED' && nonPrice.length > 0) {
      return {
        goods,
        userErrors: [
          userError(
            'LIVE_GOODS_AUDIT_STATE',
            `Good ${goods.goodsId} is approved: only priceType, price and price2 may change (not ${nonPrice.join(', ')}); to change those, delete it and add it again.`,
            ['input', nonPrice[0] ?? 'name'],
          ),
        ],
      };
    }
    const next = {
      priceType: (input.priceType ?? goods.priceType) as 1 | 2 | 3,
      price: input.price ?? goods.price,
      price2: input.price2 ?? goods.price2,
    };
    const errors = [...priceErrors(next), ...fieldErrors({ url: input.url ?? goods.url })];
    if (input.name != null) {
      const name = goodsNameError(input.name);
      if (name) errors.unshift(name);
    }
    if (errors.length > 0) return { goods, userErrors: errors };
    const change: Partial<GoodsFields> = {
      priceType: next.priceType,
      price: next.price,
      ...(next.priceType === 1 ? {} : { price2: next.price2 ?? 0 }),
      ...(input.name != null ? { name: input.name } : {}),
      ...(input.coverMediaId != null ? { coverImgUrl: input.coverMediaId } : {}),
      ...(input.url != null ? { url: input.url } : {}),
    };
    const updated = await this.deps.calls.call(
      ctx,
      input.appId,
      { endpoint: 'goods_update', operation: 'updateLiveGoods', request: { goodsId: input.goodsId, ...change } },
      (c, token) => c.updateGoods(token, input.goodsId, change),
    );
    if (!updated.ok) return { goods, userErrors: [updated.error] };
    const mirrored = await this.mirrorOne(ctx, input.appId, {
      ...wechatOf(goods),
      name: input.name ?? goods.name,
      coverImgUrl: input.coverMediaId ?? goods.coverImgUrl,
      url: input.url ?? goods.url,
      priceType: next.priceType,
      price: next.price,
      price2: next.price2 ?? 0,
    });
    return { goods: mirrored, userErrors: [] };
  }

  /** The merchant served, and the good in the mirror (a good the gateway never saw: read it with liveGoods(refresh: true)). */
  private async known(ctx: TenantContext, appId: string, goodsId: number, field = ['goodsId']): Promise<CallResult<LiveGoodsView>> {
    const merchant = await this.deps.calls.checkMerchant(ctx, appId);
    if (merchant) return { ok: false, error: merchant };
    const goods = await this.get(ctx, appId, goodsId);
    if (!goods || goods.removed) {
      return {
        ok: false,
        error: userError('LIVE_GOODS_NOT_FOUND', `The gateway knows no good ${goodsId}; if it was added elsewhere, read liveGoods(refresh: true).`, field),
      };
    }
    return { ok: true, value: goods };
  }

  private async mirrorOne(ctx: TenantContext, appId: string, goods: WechatGoods & { auditId?: number | null }): Promise<LiveGoodsView | null> {
    const changes = await inTenant(this.deps.db, ctx.tenantId, (db) => mirrorGoods(db, this.deps.clock, at(ctx, appId), [goods]));
    await this.deps.changes.announce(ctx.tenantId, changes);
    return changes.goods[0] ?? null;
  }
}

function wechatOf(g: LiveGoodsView): WechatGoods & { auditId: number | null } {
  return {
    goodsId: g.goodsId,
    auditId: g.auditId,
    name: g.name,
    coverImgUrl: g.coverImgUrl,
    url: g.url,
    priceType: g.priceType,
    price: g.price,
    price2: g.price2 ?? 0,
    auditStatus: AUDIT_CODE_OF[g.auditStatus],
  };
}

function fieldErrors(input: { url: string; coverMediaId?: string }): UserError[] {
  const errors: UserError[] = [];
  if (!input.url.trim() || input.url.length > GOODS_RULES.urlMax) {
    errors.push(userError('INVALID_INPUT', `url is the Mini Program page the good opens, 1 to ${GOODS_RULES.urlMax} characters.`, ['input', 'url']));
  }
  if (input.coverMediaId !== undefined && !input.coverMediaId.trim()) {
    errors.push(userError('INVALID_INPUT', 'coverMediaId: upload the image first (uploadLiveImage) and pass its mediaId.', ['input', 'coverMediaId']));
  }
  return errors;
}
