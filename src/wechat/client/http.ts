import { request } from 'undici';
import type { Logger } from '../../lib/logger.js';
import { inSpan, SpanKind } from '../../lib/tracing.js';
import { WECHAT_ENDPOINTS, type WechatEndpoint } from '../endpoints.js';
import { WechatError, type WechatErrorCode } from '../errors.js';

/** How one call ended, for metrics. */
export type CallOutcome = 'ok' | 'errcode' | 'network' | 'timeout' | 'http_5xx' | 'http_status' | 'bad_response';

export interface CallInfo {
  endpoint: WechatEndpoint;
  errcode: number | null;
  latencyMs: number;
  outcome: CallOutcome;
}

export type OnCall = (info: CallInfo) => void;

export interface WechatHttpOptions {
  baseUrl: string;
  /** Per call; default 5000 ms. */
  timeoutMs?: number;
  logger: Logger;
  onCall?: OnCall;
}

/** A WeChat reply with errcode 0 (or an errcode the caller declared a business result). */
export interface WechatReply {
  body: Record<string, unknown>;
  errcode: number;
  errmsg: string;
  latencyMs: number;
}

export interface WechatHttp {
  /**
   * POST a JSON body; the access token goes in the query string as WeChat wants it. Throws
   * WechatError for transport failures and for non-zero errcodes not listed in `resultErrcodes`.
   */
  post(
    endpoint: WechatEndpoint,
    token: { param: 'component_access_token' | 'access_token'; value: string } | null,
    body: Record<string, unknown>,
    resultErrcodes?: readonly number[],
  ): Promise<WechatReply>;
  /** GET with parameters in the query string (a few live endpoints take no body). */
  get(endpoint: WechatEndpoint, token: { param: 'access_token'; value: string }, params: Record<string, string | number>): Promise<WechatReply>;
  /** POST one file as multipart/form-data (temporary media upload); `query` adds parameters such as `type`. */
  upload(
    endpoint: WechatEndpoint,
    token: { param: 'access_token'; value: string },
    query: Record<string, string>,
    file: { field: string; filename: string; contentType: string; bytes: Uint8Array },
  ): Promise<WechatReply>;
}

/** How a request goes out: its method, query string beyond the token, and body. */
interface Outgoing {
  method: 'GET' | 'POST';
  query: string;
  body: string | FormData | undefined;
  contentType: string | undefined;
  /** What the log line may show of the request. */
  logged: Record<string, unknown>;
}

/** Request fields safe to log; every other field (secrets, tickets, refresh tokens, codes) is dropped. */
const LOGGABLE_FIELDS = ['component_appid', 'authorizer_appid', 'action', 'cgi_path', 'roomId', 'id', 'goodsId', 'role', 'start', 'limit'];

/** The error codes an HTTP call itself can end with (the others come from the token manager). */
type CallErrorCode = Exclude<WechatErrorCode, 'COMPONENT_TICKET_MISSING' | 'AUTHORIZER_UNKNOWN' | 'TOKEN_REFRESH_TIMEOUT'>;

const OUTCOME_OF: Record<CallErrorCode, CallOutcome> = {
  WECHAT_ERRCODE: 'errcode',
  WECHAT_NETWORK: 'network',
  WECHAT_TIMEOUT: 'timeout',
  WECHAT_HTTP_5XX: 'http_5xx',
  WECHAT_HTTP_STATUS: 'http_status',
  WECHAT_BAD_RESPONSE: 'bad_response',
};

export function createWechatHttp(options: WechatHttpOptions): WechatHttp {
  const base = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 5000;
  const { logger, onCall } = options;

  function report(endpoint: WechatEndpoint, body: Record<string, unknown>, info: CallInfo, errmsg: string): void {
    onCall?.(info);
    // A successful call is logged at debug: build nothing for it when debug is off.
    if (info.outcome === 'ok' && !logger.isLevelEnabled('debug')) return;
    const request: Record<string, unknown> = {};
    for (const field of LOGGABLE_FIELDS) if (field in body) request[field] = body[field];
    // The request or job this call served (requestId, tenantId...) comes from the logger's mixin.
    const entry = { wechat: { endpoint, request, errcode: info.errcode, errmsg, latencyMs: info.latencyMs, outcome: info.outcome } };
    if (info.outcome === 'ok') logger.debug(entry, 'wechat call');
    else if (info.outcome === 'errcode') logger.info(entry, 'wechat call answered an errcode');
    else logger.warn(entry, 'wechat call failed');
  }

  // One client span per call; the token in the query string is never an attribute.
  const send = (endpoint: WechatEndpoint, token: { param: string; value: string } | null, out: Outgoing, resultErrcodes: readonly number[] = []) =>
    inSpan(`wechat ${endpoint}`, { kind: SpanKind.CLIENT, attributes: { 'wechat.endpoint': endpoint } }, async (span) => {
      const reply = await untracedSend(endpoint, token, out, resultErrcodes);
      span.setAttribute('wechat.errcode', reply.errcode);
      return reply;
    });

  const post: WechatHttp['post'] = (endpoint, token, body, resultErrcodes) =>
    send(endpoint, token, { method: 'POST', query: '', body: JSON.stringify(body), contentType: 'application/json', logged: body }, resultErrcodes);

  const get: WechatHttp['get'] = (endpoint, token, params) => {
    const query = Object.entries(params)
      .map(([k, v]) => `&${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join('');
    return send(endpoint, token, { method: 'GET', query, body: undefined, contentType: undefined, logged: params });
  };

  const upload: WechatHttp['upload'] = (endpoint, token, query, file) => {
    const form = new FormData();
    form.append(file.field, new Blob([file.bytes], { type: file.contentType }), file.filename);
    const extra = Object.entries(query)
      .map(([k, v]) => `&${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .join('');
    // fetch sets the multipart content type with its boundary.
    return send(endpoint, token, { method: 'POST', query: extra, body: form, contentType: undefined, logged: { ...query, bytes: file.bytes.byteLength } });
  };

  async function untracedSend(
    endpoint: WechatEndpoint,
    token: { param: string; value: string } | null,
    out: Outgoing,
    resultErrcodes: readonly number[],
  ): Promise<WechatReply> {
    const body = out.logged;
    const tokenQuery = token === null ? '' : `${token.param}=${encodeURIComponent(token.value)}`;
    const rest = token === null ? out.query.replace(/^&/, '') : out.query;
    const query = tokenQuery === '' && rest === '' ? '' : `?${tokenQuery}${rest}`;
    const started = performance.now();
    const fail = (
      code: CallErrorCode,
      extra: { errcode?: number; errmsg?: string; httpStatus?: number; cause?: unknown; reply?: Record<string, unknown> },
    ): never => {
      const latencyMs = performance.now() - started;
      const error = new WechatError({ code, endpoint, latencyMs, ...extra });
      report(endpoint, body, { endpoint, errcode: error.errcode, latencyMs, outcome: OUTCOME_OF[code] }, error.errmsg);
      throw error;
    };

    let status: number;
    let text: string;
    try {
      const url = `${base}${WECHAT_ENDPOINTS[endpoint]}${query}`;
      const signal = AbortSignal.timeout(timeoutMs);
      if (typeof out.body === 'string' || out.body === undefined) {
        // undici's request (keep-alive, pooled per origin like fetch) costs the worker a fraction of
        // fetch's CPU per call: no WHATWG Request, Headers, Response and streams around each one.
        const response = await request(url, {
          method: out.method,
          ...(out.contentType === undefined ? {} : { headers: { 'content-type': out.contentType } }),
          ...(out.body === undefined ? {} : { body: out.body }),
          signal,
        });
        status = response.statusCode;
        text = await response.body.text();
      } else {
        // Multipart uploads keep fetch, which builds the form's body and boundary.
        const response = await fetch(url, {
          method: out.method,
          ...(out.contentType === undefined ? {} : { headers: { 'content-type': out.contentType } }),
          body: out.body,
          signal,
        });
        status = response.status;
        text = await response.text();
      }
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      return fail(timedOut ? 'WECHAT_TIMEOUT' : 'WECHAT_NETWORK', {
        errmsg: timedOut ? `no answer within ${timeoutMs} ms` : errorMessage(error),
        cause: error,
      });
    }
    if (status >= 500) return fail('WECHAT_HTTP_5XX', { httpStatus: status, errmsg: `HTTP ${status}` });
    if (status !== 200) return fail('WECHAT_HTTP_STATUS', { httpStatus: status, errmsg: `HTTP ${status}` });

    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return fail('WECHAT_BAD_RESPONSE', { errmsg: 'reply is not JSON', cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return fail('WECHAT_BAD_RESPONSE', { errmsg: 'reply is not a JSON object' });
    }
    const reply = parsed as Record<string, unknown>;
    // Success replies of several endpoints omit errcode entirely.
    const errcode = typeof reply.errcode === 'number' ? reply.errcode : 0;
    const errmsg = typeof reply.errmsg === 'string' ? reply.errmsg : errcode === 0 ? 'ok' : '';
    if (errcode !== 0 && !resultErrcodes.includes(errcode)) return fail('WECHAT_ERRCODE', { errcode, errmsg, reply });

    const latencyMs = performance.now() - started;
    report(endpoint, body, { endpoint, errcode, latencyMs, outcome: 'ok' }, errmsg);
    return { body: reply, errcode, errmsg, latencyMs };
  }

  return { post, get, upload };
}

function errorMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // undici wraps the interesting part ("ECONNREFUSED ...") in `cause`.
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
