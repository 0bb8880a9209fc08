import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';
import { type AttemptResult, DELIVERY_TIMEOUT_MS, parseRetryAfter } from '../services/webhooks/delivery-schedule.js';
import { MAX_RESPONSE_SNIPPET_CHARS } from '../services/webhooks/delivery.store.js';

export interface OutboundRequest {
  url: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface SendResult extends AttemptResult {
  /** The first bytes of the response body, as text. */
  response: string | null;
  latencyMs: number;
}

export type Send = (request: OutboundRequest) => Promise<SendResult>;

/** Past this many bytes the rest of a response is not read: the connection is closed instead. */
const MAX_READ_BYTES = 64 * 1024;

/**
 * POSTs with node:http/https through request-filtering-agent, which checks every address a
 * connection is about to use after DNS resolution (loopback, private, link-local, meta
 * addresses refused unless allowed), so an endpoint whose name later resolves to an internal
 * address (DNS rebinding) is refused at connect time, not only at registration. No redirects
 * are followed. The whole attempt (connect, send, answer) is bounded by `timeoutMs`.
 */
export function createWebhookSender(options: { allowPrivateAddresses: boolean; timeoutMs?: number; now?: () => number }): { send: Send; close(): void } {
  const timeoutMs = options.timeoutMs ?? DELIVERY_TIMEOUT_MS;
  const now = options.now ?? Date.now;
  const filter = { allowPrivateIPAddress: options.allowPrivateAddresses, allowMetaIPAddress: false, keepAlive: true, maxSockets: 16 };
  const agents = { http: new RequestFilteringHttpAgent(filter), https: new RequestFilteringHttpsAgent(filter) };
  const send: Send = (req) =>
    new Promise<SendResult>((resolve) => {
      const started = performance.now();
      let settled = false;
      const finish = (r: Omit<SendResult, 'latencyMs'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...r, latencyMs: Math.round(performance.now() - started) });
      };
      let url: URL;
      try {
        url = new URL(req.url);
      } catch {
        finish({ statusCode: null, error: 'the endpoint URL is not a URL', retryAfterMs: null, response: null });
        return;
      }
      const isHttps = url.protocol === 'https:';
      const make = isHttps ? httpsRequest : httpRequest;
      const outgoing = make(url, {
        method: 'POST',
        agent: isHttps ? agents.https : agents.http,
        headers: { ...req.headers, 'content-length': String(req.body.length), 'user-agent': 'wxlive-gateway-webhooks' },
      });
      const timer = setTimeout(() => outgoing.destroy(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
      outgoing.on('error', (err) => finish({ statusCode: null, error: err.message, retryAfterMs: null, response: null }));
      outgoing.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const statusCode = res.statusCode ?? null;
        const retryAfter = res.headers['retry-after'];
        const answer = (error: string | null) => {
          const text = Buffer.concat(chunks).toString('utf8').slice(0, MAX_RESPONSE_SNIPPET_CHARS);
          finish({
            statusCode,
            error,
            retryAfterMs: parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, now()),
            response: text === '' ? null : text,
          });
        };
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_RESPONSE_SNIPPET_CHARS * 4) chunks.push(chunk);
          size += chunk.length;
          if (size > MAX_READ_BYTES) {
            answer(null);
            res.destroy();
          }
        });
        res.on('end', () => answer(null));
        // A connection closed before the answer ended is not an answer: retried, whatever the status line said.
        res.on('error', (err) =>
          finish({ statusCode: null, error: `the answer broke off (${err.message}) after HTTP ${statusCode}`, retryAfterMs: null, response: null }),
        );
        res.on('close', () => {
          if (!res.complete)
            finish({ statusCode: null, error: `the connection closed mid-answer after HTTP ${statusCode}`, retryAfterMs: null, response: null });
        });
      });
      outgoing.end(req.body);
    });
  return {
    send,
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
