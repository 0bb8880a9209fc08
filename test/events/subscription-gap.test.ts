import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisChangePublisher } from '../../src/events/change-feed.js';
import { ChangeSubscriber } from '../../src/events/change-subscriber.js';
import { LiveEventSubscriber, RedisLiveEventPublisher } from '../../src/events/live-event-feed.js';
import { liveEvents } from '../../src/db/tables.js';
import { ApplicationFeed, redisChangeSource } from '../../src/graphql/application-feed.js';
import { LiveRoomFeed, liveEventSource } from '../../src/graphql/live-room-feed.js';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { type LiveApplicationView, LiveApplicationQueries } from '../../src/services/live-application/index.js';
import { LiveEventsService } from '../../src/services/live-ops/live-events.service.js';
import type { LiveEventView } from '../../src/services/live-ops/live-mirror.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { applicationView } from '../support/application-view.js';
import { createTestEnv, REDIS_URL, type TestEnv } from '../support/test-env.js';

/**
 * The instance's one subscription connection drops (a Redis restart, a failover, a network cut):
 * whatever is published until ioredis has subscribed again reaches no listener. Subscribers must
 * still get every change, from the stream.
 */

let env: TestEnv;
let sub: Redis;
const tenantId = '00000000-0000-4000-8000-000000000001';

beforeAll(async () => {
  env = await createTestEnv();
  // Reconnects after 300 ms: long enough that a change published right after the cut is surely missed live.
  sub = new Redis(REDIS_URL, { retryStrategy: () => 300 });
});

afterAll(async () => {
  sub?.disconnect();
  await env?.cleanup();
});

const application = (id: string, status: LiveApplicationView['status']) => applicationView(tenantId, id, status, 'wx0000000000000001');

describe('a lost subscription connection', () => {
  it('replays what it missed to a waiting subscriber, once, in order', async () => {
    const connectionId = String(await sub.client('ID'));
    const subscriber = new ChangeSubscriber(sub, env.redisPrefix, silentLogger);
    await subscriber.start();
    const gaps: number[] = [];
    const losses: number[] = [];
    subscriber.onGap(
      tenantId,
      (since) => gaps.push(since),
      (at) => losses.push(at),
    );
    const queries = new LiveApplicationQueries({ db: env.appDatabase.db, clock: systemClock });
    const feed = new ApplicationFeed(redisChangeSource(subscriber, env.redis, env.redisPrefix, queries));
    const stream = feed.subscribe({ tenantId, scopes: new Set(['read'] as const) }, {});
    const publisher = new RedisChangePublisher(env.redis, env.redisPrefix);

    await publisher.publish([{ outboxId: 1, application: application('a1', 'QUEUED') }]);
    expect((await stream.next()).value?.application.status).toBe('QUEUED');

    const waiting = stream.next();
    const closed = once(sub, 'close');
    await env.redis.client('KILL', 'ID', connectionId);
    await closed;
    await publisher.publish([{ outboxId: 2, application: application('a1', 'SUBMITTED') }]);
    await publisher.publish([{ outboxId: 3, application: application('a2', 'QUEUED') }]);

    const first = await waiting;
    const second = await stream.next();
    expect([first.value?.application, second.value?.application].map((a) => `${a?.id}:${a?.status}`)).toEqual(['a1:SUBMITTED', 'a2:QUEUED']);
    expect(gaps).toHaveLength(1);
    // The loss was told as it happened, with the instant the gap is then reported from.
    expect(losses).toEqual(gaps);

    // Live again: the next change arrives once, not a second time from the replay.
    await publisher.publish([{ outboxId: 4, application: application('a1', 'OPENED') }]);
    const third = await stream.next();
    expect(`${third.value?.application.id}:${third.value?.application.status}`).toBe('a1:OPENED');
    await stream.return?.();
  });
});

describe('a lost subscription connection, for liveRoomUpdated', () => {
  /** A room event committed to live_events and published, as the live mirror does. */
  async function roomEvent(tenant: string, appId: string, roomId: number, status: string): Promise<LiveEventView> {
    const [row] = await env.database.db
      .insert(liveEvents)
      .values({ tenantId: tenant, appId, type: 'live_room.updated', subjectId: roomId, data: { room: { roomId, status } }, createdAt: new Date() })
      .returning();
    if (!row) throw new Error('no row');
    const event: LiveEventView = { ...row, cursor: String(row.id), type: 'live_room.updated' };
    await new RedisLiveEventPublisher(env.redis, env.redisPrefix).publish(tenant, [event]);
    return event;
  }
  const statusOf = (r: IteratorResult<LiveEventView>) => `${r.value?.subjectId}:${(r.value?.data as { room?: { status: string } } | undefined)?.room?.status}`;

  for (const started of ['after one live event', 'before any event']) {
    it(`replays what it missed from live_events to a waiting subscriber, once, in order (${started})`, async () => {
      const { tenant, appIds } = await createTenantWithMerchants(env.database.db, env.box, 1);
      const appId = appIds[0] as string;
      const connection = new Redis(REDIS_URL, { retryStrategy: () => 300 });
      try {
        const connectionId = String(await connection.client('ID'));
        const subscriber = new LiveEventSubscriber(connection, env.redisPrefix, silentLogger);
        await subscriber.start();
        const feed = new LiveRoomFeed(liveEventSource(subscriber, new LiveEventsService(env.database.db)));
        const stream = feed.subscribe({ tenantId: tenant.id, scopes: new Set(['read'] as const) }, {});
        if (started === 'after one live event') {
          const waitingFirst = stream.next();
          await roomEvent(tenant.id, appId, 1, 'NOT_STARTED');
          expect(statusOf(await waitingFirst)).toBe('1:NOT_STARTED');
        }

        const waiting = stream.next();
        const closed = once(connection, 'close');
        await env.redis.client('KILL', 'ID', connectionId);
        await closed;
        await roomEvent(tenant.id, appId, 1, 'LIVE');
        await roomEvent(tenant.id, appId, 2, 'NOT_STARTED');

        const got = [statusOf(await waiting), statusOf(await stream.next())];
        expect(got).toEqual(['1:LIVE', '2:NOT_STARTED']);

        // Live again: the next event arrives once, not a second time from the replay.
        await roomEvent(tenant.id, appId, 1, 'ENDED');
        expect(statusOf(await stream.next())).toBe('1:ENDED');
        await stream.return?.();
      } finally {
        connection.disconnect();
      }
    });
  }
});
