import { sql } from 'drizzle-orm';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { type Db, rowsOf } from '../db/client.js';
import { asSystem } from '../db/tenant-scope.js';

/** Outbound webhook metrics, on the app's registry (labels: kind RELAY|EVENTS, outcome, endpoint state). */
export function createWebhookMetrics(registry: Registry, db?: Db) {
  return {
    deliveries: new Counter({
      name: 'wxlive_webhook_deliveries_total',
      help: 'Outbound webhook attempts, by endpoint kind (RELAY, EVENTS) and outcome (delivered, retry, failed, gone)',
      labelNames: ['kind', 'outcome'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'wxlive_webhook_delivery_seconds',
      help: 'Outbound webhook attempts from connect to the end of the answer (or the 15 s timeout), by endpoint kind',
      labelNames: ['kind'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
      registers: [registry],
    }),
    pending: new Gauge({
      name: 'wxlive_webhook_deliveries_pending',
      help: 'PENDING outbound deliveries, by the state of their endpoint (enabled, disabled), read from Postgres at scrape time',
      labelNames: ['endpoint_state'] as const,
      registers: [registry],
      async collect() {
        if (!db) return;
        const rows = await asSystem(db, (tx) =>
          tx.execute(
            sql`select e.enabled, count(*)::int as n from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id where d.status = 'PENDING' group by e.enabled`,
          ),
        );
        this.reset();
        this.set({ endpoint_state: 'enabled' }, 0);
        this.set({ endpoint_state: 'disabled' }, 0);
        for (const r of rowsOf<{ enabled: boolean; n: number }>(rows)) this.set({ endpoint_state: r.enabled ? 'enabled' : 'disabled' }, r.n);
      },
    }),
  };
}

export type WebhookMetrics = ReturnType<typeof createWebhookMetrics>;
