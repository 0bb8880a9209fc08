import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../../src/app/create-app.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { systemContext } from '../../../src/services/context.js';
import { createTenantWithMerchants } from '../../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../../support/test-env.js';
import { type Received, Receiver } from './support/receiver.js';

let env: TestEnv;
let app: App;
let receiver: Receiver;
const clock = new ManualClock(Date.now());

async function gql<T>(key: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown };
  expect(body.errors).toBeUndefined();
  return body.data as T;
}

async function tenantWithEndpoint(path: string, events: string[] | null = null) {
  const t = await createTenantWithMerchants(env.database.db, env.box, 2);
  const admin = (await app.services.tenants.createApiKey(t.tenant.id, ['admin'])).key;
  const created = await gql<{ createWebhookEndpoint: { endpoint: { id: string }; secret: string } }>(
    admin,
    'mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } secret userErrors { code message } } }',
    { input: { url: `${receiver.url}${path}`, kind: 'EVENTS', events } },
  );
  return { ...t, admin, endpointId: created.createWebhookEndpoint.endpoint.id, secret: created.createWebhookEndpoint.secret };
}

type Event = { type: string; timestamp: string; data: { id: string; appId: string; status: string; cursor: string | null } };

/** Verifies with the reference library, as a receiver would; throws when the signature does not match. */
function verified(r: Received, secret: string): Event {
  return new Webhook(secret).verify(r.body.toString('utf8'), r.headers as Record<string, string>) as Event;
}

beforeAll(async () => {
  env = await createTestEnv();
  receiver = await new Receiver().start();
  app = await createApp(
    env.config({ WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true', WECHAT_API_BASE: 'http://127.0.0.1:9', APPLY_BACKOFF_MS: '600000' }),
    { clock },
  );
});

afterAll(async () => {
  await app?.stop();
  await receiver?.stop();
  await env?.cleanup();
});

describe('EVENTS endpoints', () => {
  it("delivers every committed change, signed per Standard Webhooks, with the feed's cursor; never to another tenant", async () => {
    const a = await tenantWithEndpoint('/a');
    const b = await tenantWithEndpoint('/b');
    const [appId] = a.appIds as [string];
    const applied = await gql<{ applyLive: { application: { id: string } } }>(
      a.apiKey.key,
      'mutation($appId: String!) { applyLive(input: { appId: $appId }) { application { id } } }',
      { appId },
    );
    const id = applied.applyLive.application.id;
    await app.services.lifecycle.cancel(systemContext(a.tenant.id), id);

    const events = await expectEventually(() => {
      const got = receiver.at('/a').map((r) => verified(r, a.secret));
      expect(got.map((e) => e.data.status)).toEqual(expect.arrayContaining(['QUEUED', 'CANCELLED']));
      return got;
    });
    const queued = events.find((e) => e.data.status === 'QUEUED');
    expect(queued).toMatchObject({ type: 'application.updated', data: { id, appId, status: 'QUEUED' } });
    expect(Date.parse(queued?.timestamp ?? '')).toBe(clock.now());
    // The cursor is the change's stream id: a receiver can order by it, and resume the subscription after it.
    expect(queued?.data.cursor).toMatch(/^\d+-\d+$/);
    expect(JSON.stringify(queued?.data)).not.toContain(a.tenant.id);
    const first = receiver.at('/a')[0] as Received;
    expect(first.headers['content-type']).toBe('application/json');
    expect(first.headers['webhook-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.headers['webhook-timestamp']).toBe(String(Math.floor(clock.now() / 1000)));
    expect(() => verified(first, b.secret)).toThrow();

    // B's own change reaches B; nothing of A's ever did.
    await app.services.lifecycle.open(systemContext(b.tenant.id), b.appIds[0] as string, new Date(clock.now()));
    await expectEventually(() => expect(receiver.at('/b')).toHaveLength(1));
    expect(verified(receiver.at('/b')[0] as Received, b.secret).data.appId).toBe(b.appIds[0]);

    const log = await gql<{ webhookDeliveries: { edges: { node: Record<string, unknown> }[] } }>(
      a.admin,
      'query($id: ID!) { webhookDeliveries(endpointId: $id, filter: { status: [DELIVERED] }) { edges { node { id endpointId eventType status attempts lastStatusCode lastResponse deliveredAt nextAttemptAt } } } }',
      { id: a.endpointId },
    );
    expect(log.webhookDeliveries.edges.length).toBe(receiver.at('/a').length);
    expect(log.webhookDeliveries.edges[0]?.node).toMatchObject({
      endpointId: a.endpointId,
      eventType: 'application.updated',
      status: 'DELIVERED',
      attempts: 1,
      lastStatusCode: 200,
      lastResponse: 'ok',
      nextAttemptAt: null,
    });
    const ids = log.webhookDeliveries.edges.map((e) => e.node.id);
    expect(ids.sort()).toEqual(
      receiver
        .at('/a')
        .map((r) => r.headers['webhook-id'])
        .sort(),
    );
  });

  it('signs with both secrets for a day after a rotation, so a receiver holding either verifies', async () => {
    const a = await tenantWithEndpoint('/rot');
    const rotated = await gql<{ rotateWebhookEndpointSecret: { secret: string } }>(
      a.admin,
      'mutation($id: ID!) { rotateWebhookEndpointSecret(id: $id) { secret } }',
      { id: a.endpointId },
    );
    const fresh = rotated.rotateWebhookEndpointSecret.secret;
    await app.services.lifecycle.open(systemContext(a.tenant.id), a.appIds[0] as string, new Date(clock.now()));
    const [r] = await expectEventually(() => {
      expect(receiver.at('/rot')).toHaveLength(1);
      return receiver.at('/rot');
    });
    expect(String(r?.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verified(r as Received, a.secret).data.status).toBe('OPENED');
    expect(verified(r as Received, fresh).data.status).toBe('OPENED');

    // A day later only the new secret signs.
    clock.advance(24 * 3_600_000 + 1_000);
    await app.services.lifecycle.open(systemContext(a.tenant.id), a.appIds[1] as string, new Date(clock.now()));
    const [, later] = await expectEventually(() => {
      expect(receiver.at('/rot')).toHaveLength(2);
      return receiver.at('/rot');
    });
    expect(String(later?.headers['webhook-signature']).split(' ')).toHaveLength(1);
    // standardwebhooks checks the timestamp against the real clock (5 min): verify the HMAC by the library's own sign.
    const body = later?.body.toString('utf8') ?? '';
    const sig = (secret: string) =>
      new Webhook(secret).sign(String(later?.headers['webhook-id']), new Date(Number(later?.headers['webhook-timestamp']) * 1000), body);
    expect(later?.headers['webhook-signature']).toBe(sig(fresh));
    expect(later?.headers['webhook-signature']).not.toBe(sig(a.secret));
  });

  it('sends the events of the changes a worker process commits from that process, with no queue job', async () => {
    const a = await tenantWithEndpoint('/direct');
    await app.services.lifecycle.open(systemContext(a.tenant.id), a.appIds[0] as string, new Date(clock.now()));
    await app.services.lifecycle.open(systemContext(a.tenant.id), a.appIds[1] as string, new Date(clock.now()));
    await expectEventually(() => expect(receiver.at('/direct')).toHaveLength(2));
    const [first, second] = receiver.at('/direct').map((r) => String(r.headers['webhook-id'])) as [string, string];
    const jobsOf = async (id: string) =>
      (await app.outbound.queue.queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed'])).filter((j) => j.data.deliveryId === id);
    expect(await jobsOf(first)).toEqual([]);
    expect(await jobsOf(second)).toEqual([]);
    // The control: a redelivery goes through the queue, and its job is seen (kept an hour once completed).
    const again = await app.outbound.deliveries.redeliver(systemContext(a.tenant.id), first);
    expect(again.userErrors).toEqual([]);
    await expectEventually(() => expect(receiver.at('/direct')).toHaveLength(3));
    expect(await jobsOf(first)).toHaveLength(1);
    expect(await jobsOf(second)).toEqual([]);
  });

  it('sends only the types an endpoint filters for', async () => {
    const a = await tenantWithEndpoint('/filtered', ['authorizer.updated']);
    await app.services.lifecycle.open(systemContext(a.tenant.id), a.appIds[0] as string, new Date(clock.now()));
    // A second endpoint of the same tenant with no filter is the sentinel: once it has the change, the filtered one would have too.
    const sentinel = await gql<{ createWebhookEndpoint: { secret: string } }>(
      a.admin,
      'mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret } }',
      { input: { url: `${receiver.url}/sentinel`, kind: 'EVENTS' } },
    );
    expect(sentinel.createWebhookEndpoint.secret).toMatch(/^whsec_/);
    await app.services.lifecycle.open(systemContext(a.tenant.id), a.appIds[1] as string, new Date(clock.now()));
    // The second merchant's change, not a count: the first one's fan-out may run after the sentinel exists and reach it too.
    // (Parsed, not verified: this file's clock is a day ahead by now, which standardwebhooks refuses.)
    const appIdsAt = (path: string) => receiver.at(path).map((r) => (JSON.parse(r.body.toString('utf8')) as Event).data.appId);
    await expectEventually(() => expect(appIdsAt('/sentinel')).toContain(a.appIds[1]));
    expect(receiver.at('/filtered')).toEqual([]);
  });

  it('delivers authorizer.updated for imports, authorizations and revocations, without the refresh token', async () => {
    // Back to the real time after the rotation test's day: standardwebhooks checks timestamps against it.
    clock.set(Date.now());
    const a = await tenantWithEndpoint('/authorizers', ['authorizer.updated']);
    const appId = 'wx0123456789abcdef';
    await app.services.authorizers.import(a.ctx, [{ appId, refreshToken: 'refresh-secret-value' }]);
    await app.services.authorizers.revoke(a.ctx, appId);
    const events = await expectEventually(() => {
      expect(receiver.at('/authorizers')).toHaveLength(2);
      return receiver.at('/authorizers').map((r) => verified(r, a.secret) as unknown as { type: string; data: { appId: string; status: string } });
    });
    expect(events.map((e) => [e.type, e.data.appId, e.data.status]).sort()).toEqual([
      ['authorizer.updated', appId, 'AUTHORIZED'],
      ['authorizer.updated', appId, 'REVOKED'],
    ]);
    expect(
      receiver
        .at('/authorizers')
        .map((r) => r.body.toString())
        .join(),
    ).not.toContain('refresh-secret-value');
  });
});
