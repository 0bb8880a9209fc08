import { eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookInbox } from '../../src/db/tables.js';
import { utcDay } from '../../src/lib/clock.js';
import { InboxStore, type NewInboxRow } from '../../src/webhooks/inbox.store.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';

let env: TestEnv;
let inbox: InboxStore;

beforeAll(async () => {
  env = await createTestEnv();
  // As the gateway runs it: connected as wxlive_app, held to row-level security.
  inbox = new InboxStore(env.appDatabase.db);
});

afterAll(async () => {
  await env?.cleanup();
});

const DAY_MS = 86_400_000;
let serial = 0;

function pushOf(tenantId: string, at: number): NewInboxRow {
  serial++;
  return {
    tenantId,
    pushedOn: utcDay(at),
    kind: 'event',
    appId: null,
    eventType: 'wxa_live_apply_event',
    dedupKey: `marks-${serial}`,
    payload: '<xml/>',
    rawQuery: null,
    rawBody: null,
    contentType: null,
    receivedAt: new Date(at),
  };
}

async function stored(tenantId: string, at: number): Promise<{ tenantId: string; id: number; pushedOn: string }> {
  const row = pushOf(tenantId, at);
  const made = await inbox.insert(row, 'claimed');
  if (!made) throw new Error('the push was not stored');
  return { tenantId, id: made.id, pushedOn: row.pushedOn };
}

async function marksOf(ids: number[]) {
  const rows = await env.database.db.select().from(webhookInbox).where(inArray(webhookInbox.id, ids));
  return new Map(rows.map((r) => [r.id, { processedAt: r.processedAt?.toISOString() ?? null, lastError: r.lastError }]));
}

describe('processed marks', () => {
  it('marks rows of several days given at once, each with its own time and note', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const now = Date.now();
    const today = await stored(t.tenant.id, now);
    const yesterday = await stored(t.tenant.id, now - DAY_MS);
    const at = new Date(now + 1_000);
    // Asked for in one turn: they go out together (one statement per tenant batch).
    await Promise.all([inbox.markProcessed(today, at), inbox.markProcessed(yesterday, new Date(now + 2_000), 'ignored: a note')]);
    const marks = await marksOf([today.id, yesterday.id]);
    expect(marks.get(today.id)).toEqual({ processedAt: at.toISOString(), lastError: null });
    expect(marks.get(yesterday.id)).toEqual({ processedAt: new Date(now + 2_000).toISOString(), lastError: 'ignored: a note' });
  });

  it('never marks another tenant’s row, even given its id and day (row-level security; the statement has no tenant filter of its own)', async () => {
    const a = await createTenantWithMerchants(env.database.db, env.box, 0);
    const b = await createTenantWithMerchants(env.database.db, env.box, 0);
    const now = Date.now();
    const own = await stored(a.tenant.id, now);
    const theirs = await stored(b.tenant.id, now);
    await inbox.markProcessed({ ...theirs, tenantId: a.tenant.id }, new Date(now));
    await inbox.markProcessed(own, new Date(now));
    const marks = await marksOf([own.id, theirs.id]);
    expect(marks.get(own.id)?.processedAt).toBe(new Date(now).toISOString());
    expect(marks.get(theirs.id)).toEqual({ processedAt: null, lastError: null });
    const [row] = await env.database.db.select().from(webhookInbox).where(eq(webhookInbox.id, theirs.id));
    expect(row?.tenantId).toBe(b.tenant.id);
  });
});
