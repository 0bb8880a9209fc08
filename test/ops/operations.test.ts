import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/app/create-app.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';

const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';
let env: TestEnv;
let app: App;

beforeAll(async () => {
  env = await createTestEnv();
  // No WeChat is reachable here: the applications below just stay queued or retry.
  app = await createApp(env.config({ ADMIN_TOKEN, WECHAT_API_BASE: 'http://127.0.0.1:9', APPLY_BACKOFF_MS: '60000' }));
});
afterAll(async () => {
  await app?.stop();
  await env.cleanup();
});

describe('operations endpoints', () => {
  it('answers /healthz, and /readyz with every dependency checked', async () => {
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${app.url}/readyz`);
    const body = (await ready.json()) as { status: string; checks: Record<string, { ok: boolean }> };
    expect(ready.status).toBe(200);
    expect(Object.keys(body.checks).sort()).toEqual(['migrations', 'postgres', 'redis', 'worker']);
    expect(Object.values(body.checks).every((c) => c.ok)).toBe(true);
  });

  it('exposes Prometheus metrics, including applications by status and queue depths', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 2);
    await app.services.lifecycle.applyBatch(t.ctx, t.appIds);
    const text = await (await fetch(`${app.url}/metrics`)).text();
    expect(text).toContain(`wxlive_applications{tenant="${t.tenant.id}",status="QUEUED"} 2`);
    expect(text).toMatch(/wxlive_queue_jobs\{state="(waiting|delayed|active)"\}/);
    expect(text).toContain('wxlive_graphql_subscriptions_open');
    expect(text).toContain('wxlive_webhook_pushes_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    expect(text).toContain(`wxlive_tenant_quota_used_today{tenant="${t.tenant.id}"}`);
  });

  it('serves the queue dashboard only with the admin token', async () => {
    expect((await fetch(`${app.url}/admin/queues`)).status).toBe(401);
    expect((await fetch(`${app.url}/admin/queues`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const page = await fetch(`${app.url}/admin/queues`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');
    const basic = Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64');
    const api = await fetch(`${app.url}/admin/queues/api/queues`, { headers: { authorization: `Basic ${basic}` } });
    expect(api.status).toBe(200);
    const queues = (await api.json()) as { queues: { name: string }[] };
    expect(queues.queues.map((q) => q.name)).toContain('live-apply');
  });
});
