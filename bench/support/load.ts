import { createRequire } from 'node:module';

// autocannon ships no types; the part used here, typed narrowly.
export interface CannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (request: CannonRequest) => CannonRequest;
}

interface CannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  requests: { total: number };
  latency: { p50: number; p99: number };
}

type Autocannon = (options: {
  url: string;
  connections: number;
  amount?: number;
  duration?: number;
  overallRate?: number;
  requests: CannonRequest[];
}) => PromiseLike<CannonResult> & { stop(): void };

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export interface LoadResult {
  /** Successful (2xx) responses per second over the run. */
  okPerSec: number;
  ok: number;
  failed: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
}

export interface LoadOptions {
  url: string;
  connections: number;
  /** Stop after this long... */
  seconds: number;
  /** ...or after this many requests, whichever comes first. */
  maxRequests: number;
  requests: CannonRequest[];
  /** Requests per second over all connections (open loop); unset = as fast as answered. */
  rate?: number;
}

/** One bounded autocannon run (count and time), against 127.0.0.1 only. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const url = new URL(o.url);
  if (url.hostname !== '127.0.0.1') throw new Error(`benchmarks send traffic to 127.0.0.1 only, not ${url.hostname}`);
  const instance = autocannon({
    url: o.url,
    connections: o.connections,
    amount: o.maxRequests,
    ...(o.rate === undefined ? {} : { overallRate: o.rate }),
    requests: o.requests,
  });
  const timer = setTimeout(() => instance.stop(), o.seconds * 1000);
  const result = await instance;
  clearTimeout(timer);
  return {
    okPerSec: Math.round(result['2xx'] / result.duration),
    ok: result['2xx'],
    failed: result.non2xx + result.errors + result.timeouts,
    seconds: result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
  };
}
