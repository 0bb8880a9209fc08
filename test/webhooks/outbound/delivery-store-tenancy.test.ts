import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookDeliveries, webhookEndpoints } from '../../../src/db/tables.js';
import { utcDay } from '../../../src/lib/clock.js';
import { systemContext } from '../../../src/services/context.js';
import { DeliveryStore } from '../../../src/services/webhooks/delivery.store.js';
import { createTenantWithMerchants } from '../../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../../support/test-env.js';

// The delivery log's batched statements find rows by id alone and leave the tenant to the
// scope's row-level security (see DeliveryStore): these show that another tenant's delivery,
// named by its id, is neither claimed nor recorded.

let env: TestEnv;
let store: DeliveryStore;

beforeAll(async () => {
  env = await createTestEnv();
  store = new DeliveryStore(env.appDatabase.db, env.box);
});

afterAll(async () => {
  await env?.cleanup();
});

async function pendingDelivery(tenantId: string, now: number): Promise<string> {
  const at = new Date(now);
  const [endpoint] = await env.database.db
    .insert(webhookEndpoints)
    .values({ tenantId, url: 'https://hooks.example.com/in', kind: 'EVENTS', secretEnc: env.box.seal('whsec_dGVzdA=='), createdAt: at, updatedAt: at })
    .returning({ id: webhookEndpoints.id });
  const [delivery] = await env.database.db
    .insert(webhookDeliveries)
    .values({
      tenantId,
      endpointId: endpoint?.id as string,
      eventType: 'application.updated',
      source: `test:${now}:${Math.random()}`,
      payload: '{}',
      createdAt: at,
      createdOn: utcDay(now),
      nextAttemptAt: at,
    })
    .returning({ id: webhookDeliveries.id });
  return delivery?.id as string;
}

async function deliveryRow(id: string) {
  const [row] = await env.database.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id));
  return row;
}

describe('the delivery log across tenants', () => {
  it('claims and records a delivery only in its own tenant’s scope', async () => {
    const a = await createTenantWithMerchants(env.database.db, env.box, 0);
    const b = await createTenantWithMerchants(env.database.db, env.box, 0);
    const now = Date.now();
    const theirs = await pendingDelivery(b.tenant.id, now);

    expect(await store.claim(systemContext(a.tenant.id), theirs, now, 30_000)).toBeUndefined();
    expect(await deliveryRow(theirs)).toMatchObject({ status: 'PENDING', attempts: 0, lastAttemptAt: null });

    const claimed = await store.claim(systemContext(b.tenant.id), theirs, now, 30_000);
    expect(claimed).toMatchObject({ id: theirs, tenantId: b.tenant.id, attempts: 0 });
    if (!claimed) throw new Error('not claimed');
    const delivered = { statusCode: 200, error: null, retryAfterMs: null, response: 'ok' };

    await store.record(systemContext(a.tenant.id), claimed, delivered, { action: 'delivered' }, now + 10);
    expect((await deliveryRow(theirs))?.status).toBe('PENDING');

    await store.record(systemContext(b.tenant.id), claimed, delivered, { action: 'delivered' }, now + 10);
    expect(await deliveryRow(theirs)).toMatchObject({ status: 'DELIVERED', attempts: 1, lastStatusCode: 200, lastResponse: 'ok' });
  });
});
