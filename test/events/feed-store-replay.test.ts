import { once } from 'node:events';
import { eq } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeFeedKeys, RedisChangePublisher, replayChanges, streamCursorNow } from '../../src/events/change-feed.js';
import { ChangeSubscriber } from '../../src/events/change-subscriber.js';
import { liveApplications } from '../../src/db/tables.js';
import { ApplicationFeed, redisChangeSource } from '../../src/graphql/application-feed.js';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { type LiveApplicationView, LiveApplicationQueries } from '../../src/services/live-application/index.js';
import { applicationView as viewColumns } from '../../src/services/live-application/application.row.js';
import { applicationView } from '../support/application-view.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, REDIS_URL, type TestEnv } from '../support/test-env.js';

/**
 * What the change stream lost (Redis restarted without persistence) or trimmed (more changes
 * than it keeps since a subscriber's cursor) is replayed from Postgres: the current state of each
 * application changed since, then the stream again. Real Postgres rows, real Redis.
 */

let env: TestEnv;
let outboxId = 0;

beforeAll(async () => {
  env = await createTestEnv();
});

afterAll(async () => {
  await env?.cleanup();
});

const ctxOf = (tenantId: string) => ({ tenantId, scopes: new Set(['read'] as const) });
const label = (a: LiveApplicationView | undefined) => `${a?.appId}:${a?.status}`;

/** A committed change, as the lifecycle makes it: the row in Postgres, then published to the stream. */
async function change(tenantId: string, appId: string, status: LiveApplicationView['status'], publisher: RedisChangePublisher): Promise<string> {
  const db = env.database.db;
  const updatedAt = new Date();
  const [existing] = await db.select({ id: liveApplications.id }).from(liveApplications).where(eq(liveApplications.appId, appId));
  const [row] = existing
    ? await db.update(liveApplications).set({ status, updatedAt }).where(eq(liveApplications.id, existing.id)).returning(viewColumns)
    : await db.insert(liveApplications).values({ tenantId, appId, status, createdAt: updatedAt, updatedAt }).returning(viewColumns);
  if (!row) throw new Error('no row');
  outboxId += 1;
  const cursor = (await publisher.publish([{ outboxId, application: row }])).get(outboxId);
  if (!cursor) throw new Error('not published');
  return cursor;
}

async function forgetStream(tenantId: string): Promise<void> {
  const keys = changeFeedKeys(env.redisPrefix);
  await env.redis.del(keys.stream(tenantId), keys.origin(tenantId));
}

/** The feed over the real service; `reads` counts the reads it makes of Postgres. */
function feedOf(subscriber: ChangeSubscriber, options: { replayPageSize?: number } = {}) {
  const queries = new LiveApplicationQueries({ db: env.appDatabase.db, clock: systemClock });
  const counted = {
    reads: 0,
    changedSince: (...args: Parameters<LiveApplicationQueries['changedSince']>) => {
      counted.reads += 1;
      return queries.changedSince(...args);
    },
  };
  return Object.assign(new ApplicationFeed(redisChangeSource(subscriber, env.redis, env.redisPrefix, counted), options), { counted });
}

describe('the stream says whether it holds every change after a cursor', () => {
  it('is complete from a fresh stream, and incomplete once Redis lost it, until the origin is set again', async () => {
    const { tenant, appIds } = await createTenantWithMerchants(env.database.db, env.box, 1);
    const publisher = new RedisChangePublisher(env.redis, env.redisPrefix);
    const first = await replayChanges(env.redis, env.redisPrefix, tenant.id, '0-0');
    // No stream and no origin: Redis cannot tell "nothing happened" from "lost everything".
    expect(first.complete).toBe(false);

    const cursor = await change(tenant.id, appIds[0] as string, 'QUEUED', publisher);
    // The stream holds every change from its first one on; before that, it cannot say (a new tenant, or a lost stream).
    const fromStart = await replayChanges(env.redis, env.redisPrefix, tenant.id, '0-0');
    expect({ complete: fromStart.complete, n: fromStart.changes.length }).toEqual({ complete: false, n: 1 });
    const kept = await replayChanges(env.redis, env.redisPrefix, tenant.id, cursor);
    expect({ complete: kept.complete, n: kept.changes.length }).toEqual({ complete: true, n: 0 });

    await forgetStream(tenant.id);
    await change(tenant.id, appIds[0] as string, 'SUBMITTED', publisher);
    // The new stream starts after the lost one: from the old cursor it cannot vouch for what was lost.
    const lost = await replayChanges(env.redis, env.redisPrefix, tenant.id, cursor);
    expect(lost.complete).toBe(false);
    expect(lost.changes.map((c) => c.application.status)).toEqual(['SUBMITTED']);

    await forgetStream(tenant.id);
    const now = await streamCursorNow(env.redis, env.redisPrefix, tenant.id);
    await change(tenant.id, appIds[0] as string, 'OPENED', publisher);
    const after = await replayChanges(env.redis, env.redisPrefix, tenant.id, now);
    expect({ complete: after.complete, statuses: after.changes.map((c) => c.application.status) }).toEqual({ complete: true, statuses: ['OPENED'] });
  });

  it('takes a stream kept before origins were as complete', async () => {
    const tenantId = '00000000-0000-4000-8000-0000000000a1';
    const keys = changeFeedKeys(env.redisPrefix);
    await env.redis.xadd(keys.stream(tenantId), '*', 'a', 'null');
    expect((await replayChanges(env.redis, env.redisPrefix, tenantId, '0-0')).complete).toBe(true);
    expect(await env.redis.get(keys.origin(tenantId))).toBe('0-0');
  });

  it('is incomplete from a cursor that length trimming passed, and complete from one it kept', async () => {
    const { tenant } = await createTenantWithMerchants(env.database.db, env.box, 0);
    const publisher = new RedisChangePublisher(env.redis, env.redisPrefix, 5);
    const views = Array.from({ length: 300 }, (_, i) => ({
      outboxId: 1_000_000 + i,
      application: applicationView(tenant.id, `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, 'QUEUED', `wx${String(i).padStart(16, '0')}`),
    }));
    const cursors = await publisher.publish(views);
    const oldest = cursors.get(1_000_000) as string;
    const trimmed = await replayChanges(env.redis, env.redisPrefix, tenant.id, oldest);
    expect(trimmed.complete).toBe(false);
    const keptIds = await env.redis.xrange(changeFeedKeys(env.redisPrefix).stream(tenant.id), '-', '+');
    const firstKept = keptIds[0]?.[0] as string;
    expect((await replayChanges(env.redis, env.redisPrefix, tenant.id, firstKept)).complete).toBe(true);
  });
});

describe('a subscription replays from Postgres what the stream lost', () => {
  it('resuming after a cursor Redis lost: the current state of each changed application, then the stream, and nothing of another tenant', async () => {
    const { tenant, appIds } = await createTenantWithMerchants(env.database.db, env.box, 3);
    const other = await createTenantWithMerchants(env.database.db, env.box, 1);
    const [a1, a2, a3] = appIds as [string, string, string];
    const publisher = new RedisChangePublisher(env.redis, env.redisPrefix);
    const cursor = await change(tenant.id, a1, 'QUEUED', publisher);

    // Changed after the subscriber's cursor, then Redis restarted empty.
    await change(tenant.id, a1, 'SUBMITTED', publisher);
    await change(tenant.id, a2, 'QUEUED', publisher);
    await change(tenant.id, a2, 'SUBMITTED', publisher);
    await change(other.tenant.id, other.appIds[0] as string, 'QUEUED', publisher);
    await forgetStream(tenant.id);

    const subscriber = new ChangeSubscriber(env.newRedis(), env.redisPrefix, silentLogger);
    await subscriber.start();
    const stream = feedOf(subscriber, { replayPageSize: 1 }).subscribe(ctxOf(tenant.id), { after: cursor });
    const replayed = [await stream.next(), await stream.next()].map((r) => r.value);
    // Each application once, at its current state, oldest change first; they carry the cursor resumed from.
    expect(replayed.map((c) => label(c?.application))).toEqual([`${a1}:SUBMITTED`, `${a2}:SUBMITTED`]);
    expect(replayed.map((c) => c?.cursor)).toEqual([cursor, cursor]);

    // Then the stream, live: once each.
    await change(tenant.id, a3, 'QUEUED', publisher);
    await change(tenant.id, a1, 'OPENED', publisher);
    const next = [await stream.next(), await stream.next()].map((r) => label(r.value?.application));
    expect(next).toEqual([`${a3}:QUEUED`, `${a1}:OPENED`]);
    await stream.return?.();

    // The read behind it is the caller's tenant's only (and row-level security holds it there too).
    const queries = new LiveApplicationQueries({ db: env.appDatabase.db, clock: systemClock });
    const everything = { since: new Date(0).toISOString(), limit: 100 };
    expect((await queries.changedSince(ctxOf(other.tenant.id), everything)).map((c) => c.application.appId)).toEqual(other.appIds);
    expect((await queries.changedSince(ctxOf(tenant.id), everything)).map((c) => c.application.appId).sort()).toEqual([a1, a2, a3].sort());
  });

  it('keeps a subscriber whose own connection came back to an empty Redis whole, with filters applied in Postgres', async () => {
    const { tenant, appIds } = await createTenantWithMerchants(env.database.db, env.box, 2);
    const [a1, a2] = appIds as [string, string];
    const publisher = new RedisChangePublisher(env.redis, env.redisPrefix);
    // Reconnects after 300 ms: the change below is surely published while it is away.
    const connection = new Redis(REDIS_URL, { retryStrategy: () => 300 });
    try {
      const connectionId = String(await connection.client('ID'));
      const subscriber = new ChangeSubscriber(connection, env.redisPrefix, silentLogger);
      await subscriber.start();
      const feed = feedOf(subscriber);
      const all = feed.subscribe(ctxOf(tenant.id), {});
      const onlyA2 = feed.subscribe(ctxOf(tenant.id), { appId: a2 });
      const first = all.next();
      await change(tenant.id, a1, 'QUEUED', publisher);
      expect(label((await first).value?.application)).toBe(`${a1}:QUEUED`);

      const waitingAll = all.next();
      const waitingA2 = onlyA2.next();
      const closed = once(connection, 'close');
      await env.redis.client('KILL', 'ID', connectionId);
      await closed;
      await change(tenant.id, a2, 'QUEUED', publisher);
      await change(tenant.id, a1, 'SUBMITTED', publisher);
      await forgetStream(tenant.id); // as a restart without persistence does

      const got = [(await waitingAll).value, (await all.next()).value].map((c) => label(c?.application));
      expect(got.sort()).toEqual([`${a1}:SUBMITTED`, `${a2}:QUEUED`].sort());
      expect(label((await waitingA2).value?.application)).toBe(`${a2}:QUEUED`);

      // Live again, once each, and the filter still holds.
      await change(tenant.id, a2, 'SUBMITTED', publisher);
      expect(label((await all.next()).value?.application)).toBe(`${a2}:SUBMITTED`);
      expect(label((await onlyA2.next()).value?.application)).toBe(`${a2}:SUBMITTED`);
      await all.return?.();
      await onlyA2.return?.();
    } finally {
      connection.disconnect();
    }
  });

  it('shares one read of Postgres between the subscribers that replay the same loss at once', async () => {
    const { tenant, appIds } = await createTenantWithMerchants(env.database.db, env.box, 1);
    const a1 = appIds[0] as string;
    const publisher = new RedisChangePublisher(env.redis, env.redisPrefix);
    const cursor = await change(tenant.id, a1, 'QUEUED', publisher);
    await change(tenant.id, a1, 'SUBMITTED', publisher);
    await forgetStream(tenant.id);

    const subscriber = new ChangeSubscriber(env.newRedis(), env.redisPrefix, silentLogger);
    await subscriber.start();
    const feed = feedOf(subscriber);
    const streams = Array.from({ length: 50 }, () => feed.subscribe(ctxOf(tenant.id), { after: cursor }));
    const first = await Promise.all(streams.map((s) => s.next()));
    expect(new Set(first.map((r) => label(r.value?.application)))).toEqual(new Set([`${a1}:SUBMITTED`]));
    expect(feed.counted.reads).toBeLessThan(streams.length);
    await Promise.all(streams.map((s) => s.return?.()));
  });

  it('shares a stream read only with subscribers that were holding live changes before it was issued', async () => {
    const subscriber = new ChangeSubscriber(env.newRedis(), env.redisPrefix, silentLogger);
    const queries = new LiveApplicationQueries({ db: env.appDatabase.db, clock: systemClock });
    const source = redisChangeSource(subscriber, env.redis, env.redisPrefix, queries);
    const tenantId = '00000000-0000-4000-8000-0000000000a2';
    const heldBefore = performance.now();
    const first = source.replay(tenantId, '0-0', 10, heldBefore);
    // Holding since before the read went out: whatever the read misses, it has heard.
    expect(source.replay(tenantId, '0-0', 10, heldBefore)).toBe(first);
    // Holding only since after it (or not at all): it may have missed what was added in between.
    expect(source.replay(tenantId, '0-0', 10, performance.now() + 1)).not.toBe(first);
    expect(source.replay(tenantId, '0-0', 10)).not.toBe(first);
    await first;
  });

  it('resuming after a cursor the stream trimmed away replays from Postgres rather than skipping', async () => {
    const { tenant, appIds } = await createTenantWithMerchants(env.database.db, env.box, 1);
    const a1 = appIds[0] as string;
    const publisher = new RedisChangePublisher(env.redis, env.redisPrefix, 5);
    const cursor = await change(tenant.id, a1, 'QUEUED', publisher);
    await change(tenant.id, a1, 'SUBMITTED', publisher);
    // Far more changes than the stream keeps, of applications that are not in Postgres (filtered out below).
    const noise = Array.from({ length: 300 }, (_, i) => ({
      outboxId: 2_000_000 + i,
      application: applicationView(tenant.id, `00000000-0000-4000-9000-${String(i).padStart(12, '0')}`, 'QUEUED', 'wx_noise'),
    }));
    await publisher.publish(noise);

    const subscriber = new ChangeSubscriber(env.newRedis(), env.redisPrefix, silentLogger);
    await subscriber.start();
    const stream = feedOf(subscriber).subscribe(ctxOf(tenant.id), { after: cursor, appId: a1 });
    expect(label((await stream.next()).value?.application)).toBe(`${a1}:SUBMITTED`);
    await stream.return?.();
  });
});
