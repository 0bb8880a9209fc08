import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisChangePublisher } from '../../src/events/change-feed.js';
import { ChangeSubscriber } from '../../src/events/change-subscriber.js';
import { ApplicationFeed, redisChangeSource } from '../../src/graphql/application-feed.js';
import { silentLogger } from '../../src/lib/logger.js';
import type { LiveApplicationView } from '../../src/services/live-application/index.js';
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

function application(id: string, status: LiveApplicationView['status']): LiveApplicationView {
  const at = new Date().toISOString();
  return {
    id,
    tenantId,
    appId: 'wx0000000000000001',
    status,
    errcode: null,
    errmsg: null,
    errorCode: null,
    attempts: 0,
    idempotencyKey: null,
    createdAt: at,
    submittedAt: null,
    openedAt: null,
    expiresAt: null,
    updatedAt: at,
  };
}

describe('a lost subscription connection', () => {
  it('replays what it missed to a waiting subscriber, once, in order', async () => {
    const connectionId = String(await sub.client('ID'));
    const subscriber = new ChangeSubscriber(sub, env.redisPrefix, silentLogger);
    await subscriber.start();
    const gaps: number[] = [];
    subscriber.onGap(tenantId, (since) => gaps.push(since));
    const feed = new ApplicationFeed(redisChangeSource(subscriber, env.redis, env.redisPrefix));
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

    // Live again: the next change arrives once, not a second time from the replay.
    await publisher.publish([{ outboxId: 4, application: application('a1', 'OPENED') }]);
    const third = await stream.next();
    expect(`${third.value?.application.id}:${third.value?.application.status}`).toBe('a1:OPENED');
    await stream.return?.();
  });
});
