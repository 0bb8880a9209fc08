import { sql } from 'drizzle-orm';
import { Gauge } from 'prom-client';
import { type Db, rowsOf } from '../db/client.js';
import { asSystem } from '../db/tenant-scope.js';
import type { ChangeSubscriber } from '../events/change-subscriber.js';
import type { OutboxRelay } from '../events/outbox-relay.js';
import type { ApplyQueue } from '../jobs/apply-queue.js';
import type { LiveGrantsGate } from '../jobs/live-grants-gate.js';
import type { QuotaLimiter } from '../jobs/quota-limiter.js';
import type { Clock } from '../lib/clock.js';
import type { TenantsService } from '../services/tenants.service.js';
import type { Metrics } from '../metrics/metrics.js';

/**
 * Gauges read at scrape time (not kept up to date on every change): queue depths from BullMQ and
 * application counts by status from Postgres, so a scrape costs two cheap queries.
 */
export function registerAppMetrics(deps: {
  metrics: Metrics;
  db: Db;
  queue: ApplyQueue;
  subscriber: ChangeSubscriber;
  /** liveRoomUpdated's listeners, counted with the applications'. */
  liveSubscriber?: { listenerCount: number };
  tenants: TenantsService;
  limiter: QuotaLimiter;
  gate: LiveGrantsGate;
  outbox: OutboxRelay;
  clock: Clock;
}): void {
  const { registry } = deps.metrics;
  new Gauge({
    name: 'wxlive_live_grants_paused',
    help: '1 while WeChat grants no new live permissions (268489001) and applyliveinfo is held for every tenant',
    registers: [registry],
    async collect() {
      this.set((await deps.gate.status(deps.clock.now())).paused ? 1 : 0);
    },
  });
  new Gauge({
    name: 'wxlive_outbox_recovered_changes',
    help: 'Changes this instance published from the outbox because the process that committed them did not',
    registers: [registry],
    collect() {
      this.set(deps.outbox.metrics.recovered);
    },
  });
  new Gauge({
    name: 'wxlive_graphql_subscriptions_open',
    help: 'GraphQL subscriptions open on this instance',
    registers: [registry],
    collect() {
      this.set(deps.subscriber.listenerCount + (deps.liveSubscriber?.listenerCount ?? 0));
    },
  });
  new Gauge({
    name: 'wxlive_queue_jobs',
    help: 'Jobs of the live-apply queue by state',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const counts = await deps.queue.queue.getJobCounts('waiting', 'delayed', 'active', 'failed', 'completed');
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'wxlive_applications',
    help: 'Live applications by tenant and status',
    labelNames: ['tenant', 'status'] as const,
    registers: [registry],
    async collect() {
      const rows = rowsOf<{ tenant: string; status: string; n: number }>(
        // Every tenant's counts: the system scope.
        await asSystem(deps.db, (db) => db.execute(sql`select tenant_id::text as tenant, status, count(*)::int as n from live_applications group by 1, 2`)),
      );
      this.reset();
      for (const r of rows) this.set({ tenant: r.tenant, status: r.status }, r.n);
    },
  });
  new Gauge({
    name: 'wxlive_tenant_quota_used_today',
    help: 'applyliveinfo calls reserved today (UTC+8 quota day) per tenant',
    labelNames: ['tenant'] as const,
    registers: [registry],
    async collect() {
      const tenants = await deps.tenants.list();
      const used = await deps.limiter.tenantsUsedToday(
        tenants.map((t) => t.id),
        deps.clock.now(),
      );
      this.reset();
      for (const [tenant, n] of used) this.set({ tenant }, n);
    },
  });
  new Gauge({
    name: 'wxlive_tenant_quota_remaining_today',
    help: 'applyliveinfo calls left today for tenants with a daily tenant quota',
    labelNames: ['tenant'] as const,
    registers: [registry],
    async collect() {
      const limited = (await deps.tenants.list()).filter((t) => t.dailyQuotaPerTenant !== null);
      const used = await deps.limiter.tenantsUsedToday(
        limited.map((t) => t.id),
        deps.clock.now(),
      );
      this.reset();
      for (const t of limited) this.set({ tenant: t.id }, Math.max(0, (t.dailyQuotaPerTenant ?? 0) - (used.get(t.id) ?? 0)));
    },
  });
}
