import type { SimScenario } from './types.js';

/** One request to a WeChat endpoint, as the route handlers see it. */
export interface SimRequest {
  /** The HTTP method the caller used. */
  method: string;
  query: URLSearchParams;
  /** The JSON body ({} for GET and multipart requests). */
  body: Record<string, unknown>;
  /** The raw body and its content type, kept only for multipart endpoints (media upload). */
  raw?: { bytes: Buffer; contentType: string };
  /** Runs `listener` if the caller closes the connection before the answer is sent (a killed client). */
  onAbandoned?: (listener: () => void) => void;
}

export type SimReply = { status: number; json: unknown } | { status: number; text: string };

export type Handler = (request: SimRequest) => SimReply | Promise<SimReply>;

export const LIVE_PERMISSION_SET = 52;

// WeChat answers errors with HTTP 200 and {errcode, errmsg} (some add fields, e.g. qrcode_url).
export function fail(errcode: number, errmsg: string, extra: Record<string, unknown> = {}): SimReply {
  return { status: 200, json: { errcode, errmsg, ...extra } };
}

export function ok(fields: Record<string, unknown>): SimReply {
  return { status: 200, json: { errcode: 0, errmsg: 'ok', ...fields } };
}

export const HTTP_500: SimReply = { status: 500, text: '<html><body>500 Internal Server Error</body></html>' };

export function str(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  return typeof value === 'string' ? value : '';
}

/** Peel `slow` wrappers: the total delay and the scenario that answers. */
export function unwrap(scenario: SimScenario): { delayMs: number; terminal: Exclude<SimScenario, { kind: 'slow' }> } {
  let delayMs = 0;
  let current = scenario;
  while (current.kind === 'slow') {
    delayMs += current.delayMs;
    current = current.inner;
  }
  return { delayMs, terminal: current };
}
