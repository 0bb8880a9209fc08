/**
 * A process that commits one application transition through the real lifecycle and is killed
 * (SIGKILL, by itself) right after the commit: before publishing the change (DIE=before-publish),
 * or after publishing it but before deleting its outbox row (DIE=after-publish). Run by
 * test/faults/outbox-crash.test.ts as `node --import tsx` with:
 *   DATABASE_URL, REDIS_URL, REDIS_PREFIX, TENANT_ID, ACTION (submit | open), TARGET (application id | app id), DIE.
 */
import { Redis } from 'ioredis';
import { connectPostgres } from '../../../src/db/client.js';
import { RedisChangePublisher } from '../../../src/events/change-feed.js';
import { systemClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/logger.js';
import { systemContext } from '../../../src/services/context.js';
import { LiveApplicationLifecycle } from '../../../src/services/live-application/index.js';
import type { ChangePublisher } from '../../../src/services/ports.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const die = env('DIE');
const database = connectPostgres(env('DATABASE_URL'), { max: 1, role: 'wxlive_app' });
const redis = new Redis(env('REDIS_URL'));
const feed = new RedisChangePublisher(redis, env('REDIS_PREFIX'));
const publisher: ChangePublisher = {
  async publish(changes) {
    // The transaction has committed: the lifecycle publishes only after it.
    if (die === 'after-publish') await feed.publish(changes);
    process.kill(process.pid, 'SIGKILL');
  },
};
const unused = () => Promise.reject(new Error('not used'));
const lifecycle = new LiveApplicationLifecycle({
  db: database.db,
  authorizers: { getMany: unused },
  queue: { enqueue: unused, remove: unused, scheduleExpiry: unused },
  publisher,
  clock: systemClock,
  logger: silentLogger,
});
const ctx = systemContext(env('TENANT_ID'), 'commit-then-die');
const action = env('ACTION');
if (action === 'submit') await lifecycle.submit(ctx, env('TARGET'), { errcode: 0, errmsg: 'ok', latencyMs: 42 });
else if (action === 'open') await lifecycle.open(ctx, env('TARGET'), new Date());
else throw new Error(`unknown ACTION ${action}`);
// Not reached: the publisher killed the process.
process.exit(3);
