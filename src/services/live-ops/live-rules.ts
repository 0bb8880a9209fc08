import { type UserError, userError } from '../errors.js';

/**
 * WeChat's documented rules for rooms and goods, checked before a call is spent on input WeChat
 * would refuse. WeChat counts a Chinese character as two characters and states its limits in
 * Chinese characters ("3 to 17 Chinese characters"): weighted lengths here.
 */
export function weightedLength(text: string): number {
  let n = 0;
  for (const ch of text) n += (ch.codePointAt(0) ?? 0) <= 0xff ? 1 : 2;
  return n;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export const ROOM_RULES = {
  /** 3 to 17 Chinese characters. */
  name: { min: 6, max: 34 },
  /** 2 to 15 Chinese characters. */
  anchorName: { min: 4, max: 30 },
  startAtLeastAheadMs: 10 * MINUTE,
  startWithinMonths: 6,
  minLengthMs: 30 * MINUTE,
  maxLengthMs: 24 * HOUR,
} as const;

export const GOODS_RULES = {
  /** 3 to 14 Chinese characters. */
  name: { min: 6, max: 28 },
  /** The Mini Program page path WeChat opens, at most 300 characters. */
  urlMax: 300,
} as const;

function lengthError(value: string, rule: { min: number; max: number }, what: string, field: string[]): UserError | null {
  const n = weightedLength(value);
  if (n >= rule.min && n <= rule.max) return null;
  return userError(
    'INVALID_INPUT',
    `${what} is ${n} characters counting a Chinese character as two; WeChat wants ${rule.min / 2} to ${rule.max / 2} Chinese characters (${rule.min} to ${rule.max}).`,
    field,
  );
}

export interface RoomSchedule {
  name: string;
  anchorName: string;
  startTime: Date;
  endTime: Date;
}

/** The rules WeChat documents for createroom and editroom, as user errors under `input.<field>`. */
export function roomErrors(room: RoomSchedule, nowMs: number): UserError[] {
  const errors: UserError[] = [];
  const name = lengthError(room.name, ROOM_RULES.name, 'The room name', ['input', 'name']);
  if (name) errors.push(name);
  const anchor = lengthError(room.anchorName, ROOM_RULES.anchorName, 'The anchor name', ['input', 'anchorName']);
  if (anchor) errors.push(anchor);
  const start = room.startTime.getTime();
  const end = room.endTime.getTime();
  const latest = new Date(nowMs);
  latest.setUTCMonth(latest.getUTCMonth() + ROOM_RULES.startWithinMonths);
  if (start < nowMs + ROOM_RULES.startAtLeastAheadMs) {
    errors.push(userError('INVALID_INPUT', 'startTime must be at least 10 minutes from now.', ['input', 'startTime']));
  } else if (start > latest.getTime()) {
    errors.push(userError('INVALID_INPUT', 'startTime must be within 6 months from now.', ['input', 'startTime']));
  }
  if (end - start < ROOM_RULES.minLengthMs || end - start > ROOM_RULES.maxLengthMs) {
    errors.push(userError('INVALID_INPUT', 'A room lasts from 30 minutes to 24 hours: endTime − startTime is out of range.', ['input', 'endTime']));
  }
  if (start % 1000 !== 0 || end % 1000 !== 0) {
    errors.push(userError('INVALID_INPUT', 'WeChat takes whole seconds: drop the milliseconds of startTime and endTime.', ['input', 'startTime']));
  }
  return errors;
}

export interface GoodsPrice {
  priceType: 1 | 2 | 3;
  price: number;
  price2?: number | null;
}

/** Price rules of goods/add and goods/update: 1 fixed price, 2 range price–price2, 3 discounted from price to price2. */
export function priceErrors(p: GoodsPrice, field: string[] = ['input']): UserError[] {
  const cents = (x: number) => Math.round(x * 100) === x * 100 || Math.abs(Math.round(x * 100) - x * 100) < 1e-6;
  const errors: UserError[] = [];
  if (!(p.price > 0) || !cents(p.price))
    errors.push(userError('INVALID_INPUT', 'price must be above 0 with at most two decimals (yuan).', [...field, 'price']));
  if (p.priceType === 1) return errors;
  if (p.price2 == null || !(p.price2 > 0) || !cents(p.price2)) {
    errors.push(userError('INVALID_INPUT', 'price2 is needed for priceType 2 and 3: above 0, at most two decimals.', [...field, 'price2']));
  } else if (p.priceType === 2 && !(p.price < p.price2)) {
    errors.push(userError('INVALID_INPUT', 'A range price (priceType 2) needs price < price2.', [...field, 'price2']));
  } else if (p.priceType === 3 && !(p.price2 < p.price)) {
    errors.push(userError('INVALID_INPUT', 'A discounted price (priceType 3) needs price2 (now) < price (was).', [...field, 'price2']));
  }
  return errors;
}

export function goodsNameError(name: string, field: string[] = ['input', 'name']): UserError | null {
  return lengthError(name, GOODS_RULES.name, 'The goods name', field);
}
