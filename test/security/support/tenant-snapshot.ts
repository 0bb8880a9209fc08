import { asc, eq } from 'drizzle-orm';
import {
  liveApiCalls,
  liveEvents,
  liveGoods,
  liveRooms,
  apiKeys,
  authorizers,
  componentTickets,
  liveApplicationEvents,
  liveApplications,
  tenants,
  webhookDeliveries,
  webhookEndpoints,
  webhookInbox,
} from '../../../src/db/tables.js';
import type { TestEnv } from '../../support/test-env.js';

/**
 * Everything one tenant owns: its rows in every table and its Redis keys (quota counters, change
 * stream, replay marks, tokens) with their serialized values. Equal snapshots: nothing changed.
 */
export async function tenantSnapshot(env: TestEnv, tenantId: string) {
  const db = env.database.db;
  const rows = {
    tenant: await db.select().from(tenants).where(eq(tenants.id, tenantId)),
    apiKeys: await db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenantId)).orderBy(asc(apiKeys.id)),
    tickets: await db.select().from(componentTickets).where(eq(componentTickets.tenantId, tenantId)),
    authorizers: await db.select().from(authorizers).where(eq(authorizers.tenantId, tenantId)).orderBy(asc(authorizers.id)),
    applications: await db.select().from(liveApplications).where(eq(liveApplications.tenantId, tenantId)).orderBy(asc(liveApplications.id)),
    events: await db.select().from(liveApplicationEvents).where(eq(liveApplicationEvents.tenantId, tenantId)).orderBy(asc(liveApplicationEvents.id)),
    inbox: await db.select().from(webhookInbox).where(eq(webhookInbox.tenantId, tenantId)).orderBy(asc(webhookInbox.id)),
    webhookEndpoints: await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.tenantId, tenantId)).orderBy(asc(webhookEndpoints.id)),
    webhookDeliveries: await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.tenantId, tenantId)).orderBy(asc(webhookDeliveries.id)),
    liveRooms: await db.select().from(liveRooms).where(eq(liveRooms.tenantId, tenantId)).orderBy(asc(liveRooms.roomId)),
    liveGoods: await db.select().from(liveGoods).where(eq(liveGoods.tenantId, tenantId)).orderBy(asc(liveGoods.goodsId)),
    liveApiCalls: await db.select().from(liveApiCalls).where(eq(liveApiCalls.tenantId, tenantId)).orderBy(asc(liveApiCalls.id)),
    liveEvents: await db.select().from(liveEvents).where(eq(liveEvents.tenantId, tenantId)).orderBy(asc(liveEvents.id)),
  };
  const keys = [...(await scanKeys(env, `*{t:${tenantId}}*`)), ...(await scanKeys(env, `*:${tenantId}*`))].sort();
  const redis: Record<string, string | null> = {};
  // The per-second rate window expires by itself within a second; it proves nothing either way.
  for (const key of keys.filter((k) => !k.endsWith(':quota:rate'))) redis[key] = (await env.redis.dumpBuffer(key))?.toString('base64') ?? null;
  return { rows, redis };
}

async function scanKeys(env: TestEnv, pattern: string): Promise<string[]> {
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await env.redis.scan(cursor, 'MATCH', `${env.redisPrefix}${pattern}`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) found.add(k);
  } while (cursor !== '0');
  return [...found];
}
