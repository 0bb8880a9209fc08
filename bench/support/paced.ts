import { Agent, request } from 'node:http';

export interface PacedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface PacedOptions {
  /** http://127.0.0.1:port */
  url: string;
  /** Requests per second, spread evenly (a request every 1/rate s, not a burst each second). */
  rate: number;
  seconds: number;
  /** Keep-alive connections at most; further requests wait for one (and that wait counts). */
  connections: number;
  next: () => PacedRequest;
  /** Called at each request's scheduled time, before it is written. */
  onSend?: (request: PacedRequest) => void;
  /** Called when a request's answer has ended. */
  onAnswered?: (request: PacedRequest, statusCode: number | undefined) => void;
}

export interface PacedResult {
  sent: number;
  ok: number;
  failed: number;
}

/**
 * An open-loop load at an even rate: every 5 ms, the requests due by then are started, whether
 * or not earlier ones were answered. (autocannon's rate limit sends each second's quota at once
 * at the start of the second, which measures bursts rather than a steady rate.)
 */
export async function sendPaced(o: PacedOptions): Promise<PacedResult> {
  const target = new URL(o.url);
  if (target.hostname !== '127.0.0.1') throw new Error(`benchmarks send traffic to 127.0.0.1 only, not ${target.hostname}`);
  const agent = new Agent({ keepAlive: true, maxSockets: o.connections });
  const total = Math.round(o.rate * o.seconds);
  const result: PacedResult = { sent: 0, ok: 0, failed: 0 };
  const inFlight = new Set<Promise<void>>();
  const send = (r: PacedRequest) => {
    const done = new Promise<void>((resolve) => {
      const req = request({ host: target.hostname, port: target.port, agent, method: r.method, path: r.path, headers: r.headers }, (res) => {
        res.resume();
        res.on('end', () => {
          o.onAnswered?.(r, res.statusCode);
          if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) result.ok++;
          else result.failed++;
          resolve();
        });
      });
      req.on('error', () => {
        result.failed++;
        resolve();
      });
      req.end(r.body);
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * o.rate));
      while (result.sent < due) {
        const r = o.next();
        o.onSend?.(r);
        result.sent++;
        send(r);
      }
      if (result.sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  // Bounded wait for the last answers.
  await Promise.race([Promise.all(inFlight), new Promise((r) => setTimeout(r, 10_000))]);
  agent.destroy();
  return result;
}
