import type { LiveEndpoint } from '../endpoints.js';
import { badParam, type Checked, countedLength, integerOf, type LiveCall, type LiveHandler, numberOf, page, queryInteger, valid } from './live-params.js';
import { type LiveGoods, type LiveGoodsFields, mediaUrl } from './live-state.js';
import { fail, ok } from './replies.js';

const MAX_WAREHOUSE_IDS = 20;

const goodsNotFound = () => fail(300024, 'goods not found');

type GoodsInfo = Record<string, unknown>;

function goodsInfoOf(call: LiveCall): GoodsInfo | null {
  const info = call.body.goodsInfo;
  return typeof info === 'object' && info !== null && !Array.isArray(info) ? (info as GoodsInfo) : null;
}

function goodsOf(call: LiveCall, id: unknown): LiveGoods | undefined {
  const goodsId = integerOf(id);
  const goods = goodsId === null ? undefined : call.app.goods.get(goodsId);
  return goods && call.live.settle(goods);
}

/**
 * Goods fields over `base` (add: none), checked as WeChat does: parameters (200002), name length
 * (300002), prices (300003), then the cover's media id (40007, only when it is sent).
 */
function goodsFields(call: LiveCall, info: GoodsInfo, base: LiveGoodsFields | null): Checked<LiveGoodsFields> {
  const text = (name: string, fallback: string | undefined): Checked<string> => {
    const value = info[name];
    if (value === undefined || value === null) return fallback === undefined ? badParam(name, 'missing') : valid(fallback);
    return typeof value === 'string' && value !== '' ? valid(value) : badParam(name, 'not a non-empty string');
  };
  const cover = text('coverImgUrl', base?.coverImgUrl);
  if (!cover.ok) return cover;
  const name = text('name', base?.name);
  if (!name.ok) return name;
  if (countedLength(name.value) < 6 || countedLength(name.value) > 28) return { ok: false, reply: fail(300002, 'name length invalid') };
  const priceType = info.priceType === undefined ? (base?.priceType ?? null) : integerOf(info.priceType);
  if (priceType !== 1 && priceType !== 2 && priceType !== 3) return badParam('priceType', 'expected 1, 2 or 3');
  const price = info.price === undefined ? (base?.price ?? null) : numberOf(info.price);
  const price2 = info.price2 === undefined ? (priceType === 1 ? 0 : (base?.price2 ?? null)) : numberOf(info.price2);
  const pricesFit = price !== null && price > 0 && (priceType === 1 || (price2 !== null && price2 > 0 && (priceType === 2 ? price < price2 : price2 < price)));
  if (!pricesFit) return { ok: false, reply: fail(300003, 'price invalid') };
  const url = text('url', base?.url);
  if (!url.ok) return url;
  const thirdPartyAppid = typeof info.thirdPartyAppid === 'string' ? info.thirdPartyAppid : (base?.thirdPartyAppid ?? '');
  if (info.coverImgUrl !== undefined && !call.live.mediaUsable(call.appId, cover.value)) return { ok: false, reply: fail(40007, 'invalid media_id') };
  return valid({ coverImgUrl: cover.value, name: name.value, priceType, price, price2: priceType === 1 ? 0 : (price2 ?? 0), url: url.value, thirdPartyAppid });
}

function startAudit(call: LiveCall, goods: LiveGoods): void {
  goods.auditId = call.app.auditId();
  goods.auditStatus = 1;
  goods.auditStartedAtMs = call.live.nowMs();
}

export function goodsHandlers(): Pick<Record<LiveEndpoint, LiveHandler>, GoodsEndpoint> {
  return {
    goods_add(call) {
      const info = goodsInfoOf(call);
      if (!info) return fail(200002, 'goodsInfo must not be empty');
      const fields = goodsFields(call, info, null);
      if (!fields.ok) return fields.reply;
      const goods: LiveGoods = { ...fields.value, goodsId: call.app.goodsId(), auditId: 0, auditStatus: 0, auditStartedAtMs: 0 };
      startAudit(call, goods);
      call.app.goods.set(goods.goodsId, goods);
      return ok({ goodsId: goods.goodsId, auditId: goods.auditId });
    },

    goods_reset_audit(call) {
      const goods = goodsOf(call, call.body.goodsId);
      if (!goods) return goodsNotFound();
      if (goods.auditStatus !== 1) return fail(300009, 'goods is not auditing');
      if (integerOf(call.body.auditId) !== goods.auditId) return badParam('auditId', 'not the audit of this goods').reply;
      goods.auditStatus = 0;
      return ok({});
    },

    goods_audit(call) {
      const goods = goodsOf(call, call.body.goodsId);
      if (!goods) return goodsNotFound();
      if (goods.auditStatus !== 0 && goods.auditStatus !== 3) return fail(300010, 'goods audit status forbids resubmitting');
      startAudit(call, goods);
      return ok({ auditId: goods.auditId });
    },

    goods_delete(call) {
      const goods = goodsOf(call, call.body.goodsId);
      if (!goods) return goodsNotFound();
      if (goods.auditStatus === 1) return fail(300014, 'auditing goods cannot be deleted');
      call.app.goods.delete(goods.goodsId);
      return ok({});
    },

    goods_update(call) {
      const info = goodsInfoOf(call);
      if (!info) return fail(200002, 'goodsInfo must not be empty');
      const goods = goodsOf(call, info.goodsId);
      if (!goods) return goodsNotFound();
      if (goods.auditStatus === 1) return fail(300010, 'auditing goods cannot be updated');
      const others = ['coverImgUrl', 'name', 'url'].filter((name) => info[name] !== undefined);
      if (goods.auditStatus === 2 && others.length > 0) return fail(300011, 'approved goods can only change price');
      const fields = goodsFields(call, info, goods);
      if (!fields.ok) return fields.reply;
      Object.assign(goods, fields.value);
      return ok({});
    },

    goods_approved(call) {
      const window = page(queryInteger(call.query, 'offset', 0), queryInteger(call.query, 'limit', 30), ['offset', 'limit'], 100);
      if (!window.ok) return window.reply;
      const status = queryInteger(call.query, 'status');
      if (!status.ok) return status.reply;
      if (status.value < 0 || status.value > 3) return badParam('status', 'expected 0, 1, 2 or 3').reply;
      const matching = [...call.app.goods.values()].map((g) => call.live.settle(g)).filter((g) => g.auditStatus === status.value);
      const { start, limit } = window.value;
      const goods = matching.slice(start, start + limit).map((g) => ({
        goodsId: g.goodsId,
        coverImgUrl: mediaUrl(g.coverImgUrl),
        name: g.name,
        price: g.price,
        price2: g.price2,
        priceType: g.priceType,
        url: g.url,
        thirdPartyAppid: '',
        thirdPartyTag: 2,
        audit_status: g.auditStatus,
      }));
      return ok({ goods, total: matching.length });
    },

    goods_warehouse(call) {
      const ids = call.body.goods_ids;
      if (!Array.isArray(ids) || ids.length === 0 || ids.some((id) => integerOf(id) === null)) {
        return badParam('goods_ids', 'a non-empty list of goods ids').reply;
      }
      if (ids.length > MAX_WAREHOUSE_IDS) return badParam('goods_ids', `at most ${MAX_WAREHOUSE_IDS} ids`).reply;
      // Unknown ids are left out, as WeChat does.
      const goods = ids.flatMap((id) => {
        const g = goodsOf(call, id);
        if (!g) return [];
        return [
          {
            goods_id: g.goodsId,
            cover_img_url: mediaUrl(g.coverImgUrl),
            name: g.name,
            audit_status: g.auditStatus,
            price_type: g.priceType,
            price: g.price,
            price2: g.price2,
            url: g.url,
            third_party_tag: 2,
          },
        ];
      });
      return ok({ goods, total: goods.length });
    },
  };
}

export type GoodsEndpoint = 'goods_add' | 'goods_reset_audit' | 'goods_audit' | 'goods_delete' | 'goods_update' | 'goods_approved' | 'goods_warehouse';
