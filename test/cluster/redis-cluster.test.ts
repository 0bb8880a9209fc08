import { randomUUID } from 'node:crypto';
import { type Client, createClient } from 'graphql-ws';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type App, createApp } from '../../src/app/create-app.js';
import { connectTenantToSimulator } from '../../src/demo/seed-demo.js';
import { RedisChangePublisher, replayChanges } from '../../src/events/change-feed.js';
import { ApplyQueue } from '../../src/jobs/apply-queue.js';
import { systemClock } from '../../src/lib/clock.js';
import { createRedis, type RedisClient } from '../../src/lib/redis.js';
import type { LiveApplicationView } from '../../src/services/live-application/index.js';
import { SimulatorAdmin } from '../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../src/wechat/simulator/server.js';
import { createTenantWithMerchants, randomAppId } from '../support/fixtures.js';
import { openSubscriptions } from '../support/metrics.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';
import { clusterUnavailableReason, type LocalCluster, startLocalCluster } from './support/local-cluster.js';

const unavailable = clusterUnavailableReason();
if (unavailable) console.warn(`Redis Cluster tests skipped: ${unavailable}`);

let cluster: LocalCluster;
let env: TestEnv;
let sim: RunningSimulator;
let app: App;
const extra: RedisClient[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  if (unavailable) return;
  cluster = await startLocalCluster();
  env = await createTestEnv();
  sim = await startSimulator({ port: 0, host: '127.0.0.1' });
  app = await createApp(env.config({ WECHAT_API_BASE: sim.url, APPLY_BACKOFF_MS: '50', ROLE: 'all', REDIS_CLUSTER_NODES: cluster.nodesEnv }));
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await app?.stop();
  await Promise.all(extra.map((r) => r.quit().catch(() => r.disconnect())));
  await sim?.stop();
  await env?.cleanup();
  await cluster?.stop();
});

async function graphql<T>(key: string, query: string, variables: Record<string, unknown>): Promise<T> {
  const res = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data: T; errors?: unknown[] };
  expect(body.errors).toBeUndefined();
  return body.data;
}

const APPLY = 'mutation($appId: String!) { applyLive(input: { appId: $appId }) { application { id status } userErrors { code } } }';

function subscribe(key: string, seen: { status: string; appId: string }[]): Promise<void> {
  const client = createClient({
    url: `${app.url?.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
  });
  clients.push(client);
  return new Promise((resolve, reject) => {
    client.on('connected', () => resolve());
    client.subscribe<{ liveApplicationUpdated: { status: string; appId: string } }>(
      { query: 'subscription { liveApplicationUpdated { id appId status cursor } }' },
      { next: (r) => r.data && seen.push(r.data.liveApplicationUpdated), error: reject, complete: () => {} },
    );
  });
}

/** The port of the master that owns `key`'s slot. */
async function ownerPort(redis: RedisClient, key: string): Promise<number> {
  const slot = Number(await redis.call('CLUSTER', 'KEYSLOT', key));
  const ranges = (await redis.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const range = ranges.find(([start, end]) => slot >= start && slot <= end);
  if (!range) throw new Error(`no node owns slot ${slot}`);
  return range[2][1];
}

function change(tenantId: string): LiveApplicationView {
  const now = new Date().toISOString();
  return {
    id: randomUUID(),
    tenantId,
    appId: randomAppId(),
    status: 'QUEUED',
    errcode: null,
    errmsg: null,
    errorCode: null,
    attempts: 0,
    idempotencyKey: null,
    createdAt: now,
    submittedAt: null,
    openedAt: null,
    expiresAt: null,
    updatedAt: now,
  };
}

describe.skipIf(unavailable)('the gateway on a three-node Redis Cluster', () => {
  it('connects with ioredis Cluster when REDIS_CLUSTER_NODES is set', () => {
    expect(app.redis).toBeInstanceOf(Cluster);
  });

  it('applies end to end: SUBMITTED then OPENED to a subscriber, the quota reserved, a rejected token refreshed', async () => {
    const a = await createTenantWithMerchants(env.database.db, env.box, 0);
    const [opens, second] = [randomAppId(), randomAppId()];
    const admin = new SimulatorAdmin(sim.url);
    await connectTenantToSimulator(admin, { webhookBaseUrl: app.url as string, authorizers: app.services.authorizers }, a.tenant.id, a.input, [
      { appId: opens, scenario: { kind: 'accept' }, openAfterMs: 200 },
      { appId: second, scenario: { kind: 'accept' }, openAfterMs: null },
    ]);
    const seen: { status: string; appId: string }[] = [];
    const before = await openSubscriptions(app.url as string);
    await subscribe(a.apiKey.key, seen);
    // graphql-ws acknowledges the connection before the subscription is registered server-side.
    await expectEventually(async () => expect(await openSubscriptions(app.url as string)).toBe(before + 1));

    const applied = await graphql<{ applyLive: { application: { status: string }; userErrors: unknown[] } }>(a.apiKey.key, APPLY, { appId: opens });
    expect(applied.applyLive.userErrors).toEqual([]);
    expect(applied.applyLive.application.status).toBe('QUEUED');
    await expectEventually(() => expect(seen.filter((s) => s.appId === opens).map((s) => s.status)).toContain('OPENED'), { timeoutMs: 15_000 });
    const statuses = seen.filter((s) => s.appId === opens).map((s) => s.status);
    expect(statuses.indexOf('SUBMITTED')).toBeGreaterThanOrEqual(0);
    expect(statuses.indexOf('SUBMITTED')).toBeLessThan(statuses.indexOf('OPENED'));

    // The limiter's Lua reservation and the quota read both ran on the tenant's slot.
    const { quota } = await graphql<{ quota: { used: number; tenantUsed: number } }>(
      a.apiKey.key,
      'query($appId: String!) { quota(appId: $appId) { used tenantUsed } }',
      {
        appId: opens,
      },
    );
    expect(quota).toEqual({ used: 1, tenantUsed: 1 });

    // WeChat forgets every token: the next apply's cached component token is rejected (40001),
    // dropped by compare-and-delete, refreshed under the lock, and the call retried once.
    await admin.invalidateTokens({});
    await graphql(a.apiKey.key, APPLY, { appId: second });
    await expectEventually(() => expect(seen.filter((s) => s.appId === second).map((s) => s.status)).toContain('SUBMITTED'), { timeoutMs: 15_000 });

    const counters = await admin.counters();
    expect(counters.calls.applyliveinfo?.byAppId).toEqual({ [opens]: 1, [second]: 1 });
    expect(counters.calls.api_component_token?.total).toBe(2);
    expect(counters.calls.api_authorizer_token?.byAppId).toMatchObject({ [opens]: 1, [second]: 2 });
    // The ticket and the open event came in through the webhook (its replay guard claims on the tenant's slot).
    expect(counters.pushes.recent.filter((p) => p.status === 200).map((p) => p.kind)).toEqual(
      expect.arrayContaining(['component_verify_ticket', 'wxa_live_apply_event']),
    );
  });

  it('publishes changes of tenants on different nodes in one call, and every node hears them', async () => {
    const redis = createRedis(app.config, { purpose: 'commands' });
    extra.push(redis);
    const prefix = app.config.redisPrefix;
    const tenants = Array.from({ length: 12 }, () => randomUUID());
    const owners = new Set(await Promise.all(tenants.map((t) => ownerPort(redis, `${prefix}:{t:${t}}:changes`))));
    expect(owners.size).toBeGreaterThan(1);

    // A plain connection to each node: cluster-wide PUBLISH reaches all of them, whichever node ran the script.
    const heard = new Map<number, string[]>();
    for (const port of cluster.ports) {
      const node = new Redis(port, '127.0.0.1');
      extra.push(node);
      heard.set(port, []);
      node.on('pmessage', (_pattern: string, channel: string) => heard.get(port)?.push(channel));
      await node.psubscribe(`${prefix}:changes:*`);
    }
    await new RedisChangePublisher(redis, prefix).publish(tenants.map((t, i) => ({ outboxId: i + 1, application: change(t) })));

    for (const port of cluster.ports) await expectEventually(() => expect(heard.get(port)).toHaveLength(tenants.length));
    for (const t of tenants) expect((await replayChanges(redis, prefix, t, '0-0')).changes).toHaveLength(1);
  });

  it('enqueues jobs of tenants on different nodes in one call, and the reconciler takes and releases its lock', async () => {
    const redis = createRedis(app.config, { purpose: 'commands' });
    extra.push(redis);
    // A queue of its own (no worker), so these jobs never reach the running worker.
    const queue = new ApplyQueue({ redis, redisPrefix: `${app.config.redisPrefix}-probe`, clock: systemClock, maxAttempts: 1, backoffMs: 50 });
    try {
      const jobs = Array.from({ length: 12 }, () => ({ tenantId: randomUUID(), applicationId: randomUUID(), appId: randomAppId() }));
      await queue.enqueue([...jobs, ...jobs.map((j) => ({ ...j, applicationId: randomUUID() }))]);
      expect(await queue.queue.getJobCountByTypes('prioritized', 'waiting')).toBe(24);
      const priorities = await Promise.all(jobs.map(async (j) => (await queue.queue.getJob(j.applicationId))?.opts.priority));
      expect(new Set(priorities)).toEqual(new Set([1]));
      expect(await queue.presence(jobs.map((j) => j.applicationId))).toEqual(jobs.map(() => 'present'));
    } finally {
      await queue.queue.obliterate({ force: true });
      await queue.close();
    }

    expect((await app.jobs?.reconciler.runOnce())?.ran).toBe(true);
    expect((await app.jobs?.reconciler.runOnce())?.ran).toBe(true);
  });
});
