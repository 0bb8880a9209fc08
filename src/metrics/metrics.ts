import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The gateway's Prometheus metrics, on a registry of the app's own (not prom-client's global
 * one), so several app instances in one process — tests, the demo — never collide.
 */
export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'wxlive_process_' });
  const m = {
    registry,
    webhookPushes: new Counter({
      name: 'wxlive_webhook_pushes_total',
      help: 'WeChat pushes received, by outcome (accepted, duplicate, rejected, unavailable) and reason',
      labelNames: ['outcome', 'reason'] as const,
      registers: [registry],
    }),
    wechatCalls: new Counter({
      name: 'wxlive_wechat_calls_total',
      help: 'HTTP calls to WeChat, by endpoint, outcome and errcode',
      labelNames: ['endpoint', 'outcome', 'errcode'] as const,
      registers: [registry],
    }),
    wechatLatency: new Histogram({
      name: 'wxlive_wechat_call_seconds',
      help: 'Latency of HTTP calls to WeChat, by endpoint',
      labelNames: ['endpoint'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    tokenRefreshes: new Counter({
      name: 'wxlive_token_refreshes_total',
      help: 'WeChat access token refreshes, by kind (component, authorizer)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    tokenReads: new Counter({
      name: 'wxlive_token_reads_total',
      help: 'Tokens handed to provider backends (componentAccessToken, authorizerAccessToken), by API key id, kind and outcome (current, rejected, failed); never by token',
      labelNames: ['key_id', 'kind', 'outcome'] as const,
      registers: [registry],
    }),
    liveGrantsPauses: new Counter({
      name: 'wxlive_live_grants_pauses_total',
      help: 'WeChat answered 268489001 (no new live grants): pauses begun, and pauses extended by a probe',
      labelNames: ['effect'] as const,
      registers: [registry],
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
