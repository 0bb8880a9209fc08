import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Clock, systemClock } from '../../lib/clock.js';
import type { LiveQuotaGroup } from '../endpoints.js';
import { createAdminRoutes } from './admin-routes.js';
import { SimAdminError, SimPusher } from './pusher.js';
import { SimState } from './state.js';
import { createWechatRoutes, type SimReply } from './wechat-routes.js';

export interface SimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The simulator's own time (token expiry, quota days); the clock admin endpoint shifts it. */
  clock?: Clock;
  /** Default 7200, as WeChat. */
  tokenTtlSeconds?: number;
  /** Default 100, as WeChat. */
  applyLiveDailyLimit?: number;
  /** Daily calls per live quota group; default LIVE_QUOTA_GROUPS (WeChat's). */
  liveQuotas?: Partial<Record<LiveQuotaGroup, number>>;
  /** Simulator-clock ms a goods audit takes; default 60000. */
  goodsAuditDelayMs?: number;
  /** Timeout of each push to a receiver; default 5000 ms (WeChat's). */
  pushTimeoutMs?: number;
}

export interface RunningSimulator {
  /** e.g. http://127.0.0.1:41234, the base URL to give the client. */
  url: string;
  port: number;
  /** In-process access to what the simulator knows (tests may read it directly). */
  state: SimState;
  stop(): Promise<void>;
}

/** A stand-in for api.weixin.qq.com with an admin API under /__sim (see README.md). */
export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const state = new SimState(options.clock ?? systemClock, {
    applyLiveDailyLimit: options.applyLiveDailyLimit ?? 100,
    tokenTtlSeconds: options.tokenTtlSeconds ?? 7200,
    delaysMs: {},
    ...(options.liveQuotas ? { liveQuotas: options.liveQuotas } : {}),
    ...(options.goodsAuditDelayMs !== undefined ? { goodsAuditDelayMs: options.goodsAuditDelayMs } : {}),
  });
  const pusher = new SimPusher(state, options.pushTimeoutMs);
  const wechat = createWechatRoutes(state, pusher);
  const admin = createAdminRoutes(state, pusher);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const mark = url.indexOf('?');
    const path = mark === -1 ? url : url.slice(0, mark);
    const bytes = await readBody(req);
    const query = new URLSearchParams(mark === -1 ? '' : url.slice(mark + 1));
    const method = req.method ?? 'GET';

    const route = wechat.get(path);
    if (route) {
      const onAbandoned = (listener: () => void) => {
        res.once('close', () => {
          if (!res.writableEnded) listener();
        });
      };
      const delayMs = state.settings.delaysMs[route.endpoint];
      if (delayMs) await sleep(delayMs);
      // Media upload is multipart: its handler reads the raw bytes, not a JSON body.
      if (route.endpoint === 'media_upload') {
        const raw = { bytes, contentType: req.headers['content-type'] ?? '' };
        return send(res, await route.handle({ method, query, body: {}, raw, onAbandoned }));
      }
      const body = parseObject(bytes.toString('utf8'));
      if (body === null) return send(res, { status: 200, json: { errcode: 47001, errmsg: 'data format error' } });
      return send(res, await route.handle({ method, query, body, onAbandoned }));
    }

    const adminRoute = admin.get(`${method} ${path}`);
    if (!adminRoute) return send(res, { status: 404, json: { error: `no route ${req.method} ${path}` } });
    try {
      const text = bytes.toString('utf8');
      const body = text === '' ? {} : JSON.parse(text);
      send(res, { status: 200, json: await adminRoute(body, query) });
    } catch (error) {
      if (error instanceof SimAdminError) return send(res, { status: error.status, json: { error: error.message } });
      if (error instanceof SyntaxError) return send(res, { status: 400, json: { error: 'body is not JSON' } });
      send(res, { status: 500, json: { error: error instanceof Error ? error.message : String(error) } });
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, { status: 500, json: { error: String(error) } });
      else res.destroy();
    });
  });
  // Clients keep connections alive for seconds; do not close them under a benchmark's feet.
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;

  return {
    url: `http://${host}:${port}`,
    port,
    state,
    async stop() {
      pusher.cancelScheduled();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A JSON object body ({} when empty), or null when it is not one. */
function parseObject(text: string): Record<string, unknown> | null {
  if (text === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function send(res: ServerResponse, reply: SimReply): void {
  const isJson = 'json' in reply;
  const payload = isJson ? JSON.stringify(reply.json) : reply.text;
  res.writeHead(reply.status, {
    'content-type': isJson ? 'application/json; charset=utf-8' : 'text/html',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}
