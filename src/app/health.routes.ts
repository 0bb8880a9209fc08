import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { type Database, migrationsFolder, rowsOf } from '../db/client.js';
import { type Route, sendJson, sendText } from '../http/router.js';
import type { JobsRuntime } from '../jobs/jobs-runtime.js';
import type { RedisClient } from '../lib/redis.js';
import type { Metrics } from '../metrics/metrics.js';

function expectedMigrations(): number {
  const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };
  return journal.entries.length;
}

async function check(name: string, fn: () => Promise<string | undefined>): Promise<[string, { ok: boolean; detail?: string }]> {
  try {
    const problem = await Promise.race([fn(), new Promise<string>((r) => setTimeout(() => r('timed out after 2 s'), 2000).unref())]);
    return problem ? [name, { ok: false, detail: problem }] : [name, { ok: true }];
  } catch (err) {
    return [name, { ok: false, detail: err instanceof Error ? err.message : String(err) }];
  }
}

/** `/healthz` (the process answers), `/readyz` (its dependencies answer), `/metrics` (Prometheus). */
export function healthRoutes(deps: { database: Database; redis: RedisClient; metrics: Metrics; jobs: JobsRuntime | undefined; runsWorker: boolean }): Route[] {
  const expected = expectedMigrations();
  return [
    { method: 'GET', path: '/healthz', handler: ({ res }) => sendJson(res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      path: '/readyz',
      handler: async ({ res }) => {
        const checks = await Promise.all([
          check('postgres', async () => {
            await deps.database.db.execute(sql`select 1`);
            return undefined;
          }),
          check('migrations', async () => {
            const [row] = rowsOf<{ n: number }>(await deps.database.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`));
            const applied = Number(row?.n ?? 0);
            return applied >= expected ? undefined : `${applied} of ${expected} migrations applied; run npm run db:migrate`;
          }),
          check('redis', async () => ((await deps.redis.ping()) === 'PONG' ? undefined : 'no PONG')),
          ...(deps.runsWorker ? [check('worker', async () => (deps.jobs?.worker.worker.isRunning() ? undefined : 'apply worker is not running'))] : []),
        ]);
        const ready = checks.every(([, c]) => c.ok);
        sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks: Object.fromEntries(checks) });
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      handler: async ({ res }) => sendText(res, 200, await deps.metrics.registry.metrics(), deps.metrics.registry.contentType),
    },
  ];
}
