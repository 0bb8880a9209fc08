import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisChangePublisher, replayChanges } from '../../src/events/change-feed.js';
import type { LiveApplicationView } from '../../src/services/live-application/index.js';
import { applicationView } from '../support/application-view.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';

let env: TestEnv;
const tenantId = '00000000-0000-4000-8000-0000000000fe';

beforeAll(async () => {
  env = await createTestEnv();
});

afterAll(async () => {
  await env?.cleanup();
});

const application = (id: string, status: LiveApplicationView['status']) => applicationView(tenantId, id, status, 'wx00000000000000fe');

describe('the change feed', () => {
  it('adds each committed change once, and never an older change of an application after a newer one', async () => {
    const publisher = new RedisChangePublisher(env.redis, env.redisPrefix);
    const submitted = await publisher.publish([{ outboxId: 11, application: application('app-1', 'SUBMITTED') }]);
    // The relay recovers the QUEUED change (outbox 10) whose publish failed, after SUBMITTED went out; and re-sends 11.
    const late = await publisher.publish([
      { outboxId: 10, application: application('app-1', 'QUEUED') },
      { outboxId: 11, application: application('app-1', 'SUBMITTED') },
      { outboxId: 9, application: application('app-2', 'QUEUED') },
    ]);
    expect(submitted.get(11)).toEqual(expect.any(String));
    expect([late.get(10), late.get(11)]).toEqual([null, null]);
    // Another application's change is its own: not superseded by app-1's newer id.
    expect(late.get(9)).toEqual(expect.any(String));

    const { changes: stream } = await replayChanges(env.redis, env.redisPrefix, tenantId, '0-0');
    expect(stream.map((c) => `${c.application.id}:${c.application.status}`)).toEqual(['app-1:SUBMITTED', 'app-2:QUEUED']);
    const opened = await publisher.publish([{ outboxId: 12, application: application('app-1', 'OPENED') }]);
    expect(opened.get(12)).toEqual(expect.any(String));
  });
});
