import { readFile } from 'node:fs/promises';
import { systemContext } from '../../services/context.js';
import { DomainError, type UserError } from '../../services/errors.js';
import { LiveGoodsService } from '../../services/live-ops/live-goods.service.js';
import type { LiveGoodsView, LiveRoomView } from '../../services/live-ops/live-mirror.js';
import { LiveRoomsService } from '../../services/live-ops/live-rooms.service.js';
import { CliError, EXIT } from '../cli-errors.js';
import type { CliRuntime } from '../cli-runtime.js';
import { bool, type Command, str } from '../command.js';
import { shortTime } from '../output.js';

function liveOf(rt: CliRuntime): NonNullable<CliRuntime['live']> {
  if (!rt.live) throw new Error('live services need the CLI runtime opened with { redis: true }');
  return rt.live;
}

/** The first user error as the CLI's one line (its message already says what to do). */
function fail(errors: readonly UserError[]): never {
  const [problem] = errors;
  // WeChat's errcode and errmsg are in the message already ("WeChat answered 300036 (...)").
  const qr = problem?.qrcodeUrl ? ` Verification code: ${problem.qrcodeUrl}` : '';
  throw new CliError(problem?.code ?? 'INVALID_INPUT', `${problem?.field ? `${problem.field.join('.')}: ` : ''}${problem?.message ?? 'Refused.'}${qr}`);
}

function date(value: string, option: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime()))
    throw new DomainError('INVALID_INPUT', `--${option} expects a date and time (ISO 8601, e.g. 2026-12-24T20:00:00+08:00), got "${value}".`);
  return d;
}

const roomJson = (r: LiveRoomView) => ({
  ...r,
  startTime: r.startTime.toISOString(),
  endTime: r.endTime.toISOString(),
  syncedAt: r.syncedAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});
const goodsJson = (g: LiveGoodsView) => ({ ...g, syncedAt: g.syncedAt.toISOString(), updatedAt: g.updatedAt.toISOString() });

export const roomList: Command = {
  name: 'room list',
  synopsis: '--tenant ID --app-id APPID [--refresh]',
  summary: "List a merchant's live rooms from the gateway's mirror; --refresh reads WeChat's list first (live_info quota).",
  options: { tenant: str, 'app-id': str, refresh: bool },
  async run({ args, out, runtime }) {
    const id = args.tenantId();
    const appId = args.appId('app-id', true);
    const rt = await runtime({ redis: true });
    await rt.tenant(id);
    const rooms: LiveRoomView[] = [];
    let after: string | null = null;
    const refresh = args.flag('refresh');
    for (;;) {
      const page = await liveOf(rt).liveRooms.list(systemContext(id), appId, { first: 100, after, refresh: refresh && after === null });
      rooms.push(...page.items);
      const last = page.items.at(-1);
      if (!page.hasNextPage || !last) break;
      after = LiveRoomsService.cursorOf(last);
    }
    out.result({ rooms: rooms.map(roomJson) }, () =>
      out.table(
        ['ROOM', 'STATUS', 'NAME', 'START', 'END', 'ANCHOR', 'GOODS', 'SYNCED'],
        rooms.map((r) => [
          String(r.roomId),
          r.status,
          r.name,
          shortTime(r.startTime),
          shortTime(r.endTime),
          r.anchorName,
          String(r.goods.length),
          shortTime(r.syncedAt),
        ]),
      ),
    );
    return EXIT.OK;
  },
};

export const roomCreate: Command = {
  name: 'room create',
  synopsis:
    '--tenant ID --app-id APPID --name NAME --cover FILE [--share FILE] --start TIME --end TIME --anchor-name NAME --anchor-wechat WXID [--type phone|push] [--landscape] [--close-kf]',
  summary: 'Create a live room: the images are uploaded as temporary media first (media quota), then createroom (room quota).',
  options: {
    tenant: str,
    'app-id': str,
    name: str,
    cover: str,
    share: str,
    start: str,
    end: str,
    'anchor-name': str,
    'anchor-wechat': str,
    type: str,
    landscape: bool,
    'close-kf': bool,
  },
  async run({ args, out, runtime }) {
    const id = args.tenantId();
    const appId = args.appId('app-id', true);
    const name = args.required('name');
    const coverPath = args.required('cover');
    const sharePath = args.string('share') ?? coverPath;
    const startTime = date(args.required('start'), 'start');
    const endTime = date(args.required('end'), 'end');
    const anchorName = args.required('anchor-name');
    const anchorWechat = args.required('anchor-wechat');
    const type = args.oneOf('type', ['phone', 'push'] as const) ?? 'phone';
    const rt = await runtime({ redis: true });
    await rt.tenant(id);
    const live = liveOf(rt);
    const ctx = systemContext(id);
    const media = new Map<string, string>();
    for (const path of new Set([coverPath, sharePath])) {
      const bytes = await readFile(path).catch((err: NodeJS.ErrnoException) => {
        throw new DomainError('INVALID_INPUT', `Cannot read ${path}: ${err.code ?? err.message}.`);
      });
      const uploaded = await live.liveMedia.upload(ctx, { appId, dataBase64: bytes.toString('base64') });
      if (!uploaded.image) fail(uploaded.userErrors);
      media.set(path, uploaded.image.mediaId);
    }
    const created = await live.liveRooms.create(ctx, {
      appId,
      name,
      coverMediaId: media.get(coverPath) ?? '',
      shareMediaId: media.get(sharePath) ?? '',
      startTime,
      endTime,
      anchorName,
      anchorWechat,
      type: type === 'push' ? 'PUSH' : 'PHONE',
      screenType: args.flag('landscape') ? 'LANDSCAPE' : 'PORTRAIT',
      closeKf: args.flag('close-kf'),
    });
    if (!created.room) fail(created.userErrors);
    const room = created.room;
    out.result({ room: roomJson(room) }, () =>
      out.line(`Created room ${room.roomId} "${room.name}" (${room.status}), ${shortTime(room.startTime)} to ${shortTime(room.endTime)}.`),
    );
    return EXIT.OK;
  },
};

export const goodsList: Command = {
  name: 'goods list',
  synopsis: '--tenant ID --app-id APPID [--status not_submitted|auditing|approved|rejected] [--refresh]',
  summary: "List a merchant's live goods with their audit status, from the mirror; --refresh reads WeChat first (goods_read quota).",
  options: { tenant: str, 'app-id': str, status: str, refresh: bool },
  async run({ args, out, runtime }) {
    const id = args.tenantId();
    const appId = args.appId('app-id', true);
    const status = args.oneOf('status', ['not_submitted', 'auditing', 'approved', 'rejected'] as const);
    const rt = await runtime({ redis: true });
    await rt.tenant(id);
    const goods: LiveGoodsView[] = [];
    let after: string | null = null;
    const refresh = args.flag('refresh');
    for (;;) {
      const page = await liveOf(rt).liveGoods.list(systemContext(id), appId, {
        first: 100,
        after,
        refresh: refresh && after === null,
        auditStatus: status ? (status.toUpperCase() as LiveGoodsView['auditStatus']) : null,
      });
      goods.push(...page.items);
      const last = page.items.at(-1);
      if (!page.hasNextPage || !last) break;
      after = LiveGoodsService.cursorOf(last);
    }
    out.result({ goods: goods.map(goodsJson) }, () =>
      out.table(
        ['GOODS', 'AUDIT', 'NAME', 'PRICE', 'URL', 'SYNCED'],
        goods.map((g) => [
          String(g.goodsId),
          g.auditStatus,
          g.name,
          g.price2 === null ? String(g.price) : `${g.price}–${g.price2}`,
          g.url,
          shortTime(g.syncedAt),
        ]),
      ),
    );
    return EXIT.OK;
  },
};
