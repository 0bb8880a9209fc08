import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { OperationReport } from '../graphql/operation-metrics.js';
import type { WebSocketStats } from '../graphql/ws-server.js';

/**
 * The gateway's Prometheus metrics, on a registry of the app's own (not prom-client's global
 * one), so several app instances in one process — tests, the demo — never collide. Labels are
 * bounded: endpoints, outcomes, codes, and tenant ids (a provider has tens of tenants, not the
 * merchants' thousands of app ids). Which metric has which labels is in the README.
 */
export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  // No prefix: process_cpu_seconds_total and nodejs_* are the names dashboards and alerts expect.
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  // Read at scrape time from the GraphQL server's graphql-ws (see watchWebSocket); none before it starts.
  let webSocket: WebSocketStats | undefined;
  const m = {
    /** The connections gauge below reads these when /metrics is scraped (wxlive_graphql_subscriptions_open is in app-metrics). */
    watchWebSocket(stats: WebSocketStats): void {
      webSocket = stats;
    },
    graphqlWsConnections: new Gauge({
      name: 'wxlive_graphql_ws_connections',
      help: 'Authenticated graphql-ws connections open on this instance',
      registers: [registry],
      collect() {
        this.set(webSocket?.connections() ?? 0);
      },
    }),
    graphqlWsMessages: new Counter({
      name: 'wxlive_graphql_ws_subscription_messages_total',
      help: 'Subscription results (next messages) sent to graphql-ws clients by this instance',
      registers: [registry],
    }),
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
    liveSyncs: new Counter({
      name: 'wxlive_live_syncs_total',
      help: "Merchants' rooms and goods read by the live sync loop, by outcome (ok, quota: the day's getliveinfo quota spent, failed: WeChat refused or did not answer)",
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    liveSyncRooms: new Counter({
      name: 'wxlive_live_sync_rooms_total',
      help: 'Rooms the live sync loop read from getliveinfo (divide by wxlive_wechat_calls_total{endpoint="live_info"} for rooms per call)',
      registers: [registry],
    }),
    liveEvents: new Counter({
      name: 'wxlive_live_events_total',
      help: 'Room status and goods audit changes the live sync loop found (live_events rows written)',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    applyWaits: new Counter({
      name: 'wxlive_apply_waits_total',
      help: 'Apply jobs parked without spending an attempt, by reason (a quota limit, WeChat 45009, live grants paused or probed, no component ticket)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    graphqlRequests: new Counter({
      name: 'wxlive_graphql_requests_total',
      help: 'GraphQL requests over HTTP, by operation type (query, mutation, none when refused before one), tenant (empty when unauthenticated) and outcome (ok, error)',
      labelNames: ['type', 'tenant', 'outcome'] as const,
      registers: [registry],
    }),
    graphqlLatency: new Histogram({
      name: 'wxlive_graphql_request_seconds',
      help: 'GraphQL requests over HTTP from their authenticated start to their answer, by operation type',
      labelNames: ['type'] as const,
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    graphqlErrors: new Counter({
      name: 'wxlive_graphql_errors_total',
      help: 'Errors in GraphQL answers over HTTP, by the code the client saw (extensions.code)',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
  };
  return m;
}

/** One GraphQL request into the three GraphQL metrics. */
export function recordGraphqlOperation(metrics: Metrics, report: OperationReport): void {
  metrics.graphqlRequests.inc({ type: report.type, tenant: report.tenantId ?? '', outcome: report.errorCodes.length > 0 ? 'error' : 'ok' });
  for (const code of report.errorCodes) metrics.graphqlErrors.inc({ code });
  if (report.seconds !== undefined) metrics.graphqlLatency.observe({ type: report.type }, report.seconds);
}

export type Metrics = ReturnType<typeof createMetrics>;
