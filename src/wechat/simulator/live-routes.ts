import { setTimeout as sleep } from 'node:timers/promises';
import { LIVE_ENDPOINTS, type LiveEndpoint } from '../endpoints.js';
import { goodsHandlers } from './live-goods-routes.js';
import type { LiveCall, LiveHandler } from './live-params.js';
import { roleHandlers } from './live-role-routes.js';
import { roomHandlers } from './live-room-routes.js';
import { fail, HTTP_500, type Handler, LIVE_PERMISSION_SET, type SimReply, type SimRequest } from './replies.js';
import type { SimState } from './state.js';

/** WeChat's cap on a temporary image. */
export const MAX_IMAGE_BYTES = 2 * 1024 * 1024;

/**
 * The live management endpoints (LIVE_ENDPOINTS). Each call goes, in order: token (counted under
 * its app id, '-' when unknown) → HTTP method (43001/43002) → scenario delay → `http500` /
 * `errcode` scenarios → 61007 (scenario `no_permission`, or permission set 52 missing) → quota:
 * every call reaching this point counts in its LIVE_QUOTA_GROUPS group, 45009 past the limit →
 * `busy` (-1) → the endpoint's own rules.
 */
export function createLiveRoutes(state: SimState): Record<LiveEndpoint, Handler> {
  const handlers: Record<LiveEndpoint, LiveHandler> = {
    media_upload: mediaUpload,
    ...roomHandlers(),
    ...goodsHandlers(),
    ...roleHandlers(),
  };

  const wrap =
    (endpoint: LiveEndpoint, run: LiveHandler): Handler =>
    async (request) => {
      const check = state.checkToken(request.query.get('access_token'), 'authorizer');
      const appId = check.ok ? (check.token.appId ?? '') : '';
      state.counters.call(endpoint, appId || '-');
      if (!check.ok) return fail(check.errcode, check.errmsg);
      const { method, group } = LIVE_ENDPOINTS[endpoint];
      if (method === 'GET' && request.method !== 'GET') return fail(43001, 'require GET method');
      if (method !== 'GET' && request.method !== 'POST') return fail(43002, 'require POST method');

      const entry = state.liveScenario(appId, endpoint);
      let scenario = entry?.scenario ?? { kind: 'accept' as const };
      while (scenario.kind === 'slow') {
        await sleep(scenario.delayMs);
        scenario = scenario.inner;
      }
      if (scenario.kind === 'http500') return HTTP_500;
      if (scenario.kind === 'errcode' && entry && state.consumeLive(entry, scenario.times ?? 'forever')) {
        return fail(scenario.errcode, scenario.errmsg ?? `simulated errcode ${scenario.errcode}`);
      }
      const authorizer = state.authorizer(check.token.componentAppId, appId);
      if (scenario.kind === 'no_permission' || !authorizer?.permissionSets.includes(LIVE_PERMISSION_SET)) {
        return fail(61007, 'api is unauthorized to component');
      }
      // Like WeChat, every call that reaches the API counts, including the refused ones.
      if (state.live.countQuota(appId, group) > state.settings.liveQuotas[group]) return fail(45009, 'reach max api daily quota limit');
      if (scenario.kind === 'busy' && entry && state.consumeLive(entry, scenario.times)) return fail(-1, 'system error');
      const call: LiveCall = { ...request, appId, app: state.live.app(appId), live: state.live };
      if (endpoint === 'media_upload') call.upload = await uploadedFile(request.raw);
      return run(call);
    };

  return Object.fromEntries(Object.entries(handlers).map(([endpoint, run]) => [endpoint, wrap(endpoint as LiveEndpoint, run)])) as Record<
    LiveEndpoint,
    Handler
  >;
}

/** `POST /cgi-bin/media/upload?type=image`, multipart with the file in field `media`. */
function mediaUpload(call: LiveCall): SimReply {
  const type = call.query.get('type');
  if (type !== 'image') return fail(40004, 'invalid media type');
  const file = call.upload;
  if (!file) return fail(41005, 'media data missing');
  if (file.size > MAX_IMAGE_BYTES) return fail(40009, 'invalid image size');
  const { mediaId, createdAt } = call.live.addMedia(call.appId, file.size);
  // WeChat's upload answers no errcode on success.
  return { status: 200, json: { type: 'image', media_id: mediaId, created_at: createdAt } };
}

/**
 * The `media` file of a multipart/form-data body. Node's own fetch Response parses multipart
 * (undici), so the simulator needs no multipart library.
 */
async function uploadedFile(raw: SimRequest['raw']): Promise<{ size: number; type: string } | null> {
  if (!raw?.contentType.toLowerCase().startsWith('multipart/form-data')) return null;
  try {
    const form = await new Response(raw.bytes, { headers: { 'content-type': raw.contentType } }).formData();
    const file = form.get('media');
    return file !== null && typeof file !== 'string' ? { size: file.size, type: file.type } : null;
  } catch {
    return null;
  }
}
