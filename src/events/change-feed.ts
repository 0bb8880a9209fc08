import type { RedisClient } from '../lib/redis.js';
import type { LiveApplicationView } from '../services/live-application/application.row.js';
import type { RecordedChange } from '../services/ports.js';

/** A change as delivered to subscribers: the application's new state and its per-tenant cursor. */
export interface ApplicationChange {
  cursor: string;
  application: LiveApplicationView;
}

export interface ChangeFeedKeys {
  stream(tenantId: string): string;
  /** Outbox ids already published (a sorted set scored by time), so a change is added once. */
  published(tenantId: string): string;
  /** The greatest outbox id published for one application, so a late older change never follows a newer one. */
  latest(tenantId: string, applicationId: string): string;
  channel(tenantId: string): string;
  channelPattern: string;
}

export function changeFeedKeys(prefix: string): ChangeFeedKeys {
  return {
    // Hash tag: the tenant's stream lives on one Cluster slot.
    stream: (tenantId) => `${prefix}:{t:${tenantId}}:changes`,
    published: (tenantId) => `${prefix}:{t:${tenantId}}:published`,
    latest: (tenantId, applicationId) => `${prefix}:{t:${tenantId}}:latest:${applicationId}`,
    channel: (tenantId) => `${prefix}:changes:${tenantId}`,
    channelPattern: `${prefix}:changes:*`,
  };
}

/**
 * XADD then PUBLISH in one script, so the cursor subscribers receive is the stream id a
 * reconnecting console resumes after, and no change is published without being kept. A change
 * whose outbox id was published already (the relay re-sending what a dead process had sent just
 * before dying) is dropped: each committed change reaches the stream exactly once. Ids are kept
 * for a day, far longer than an outbox row waits.
 *
 * A change older than one already published for the same application (the relay recovering a
 * change whose publish failed, after a later one went out) is dropped too: subscribers get an
 * application's latest state, never a stale one after it. Outbox ids grow in commit order per
 * application (its transitions serialize on the row lock), so the greatest one is the newest.
 */
const PUBLISH_SCRIPT = `
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZADD', KEYS[2], 'NX', nowMs, ARGV[4]) == 0 then return false end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', nowMs - 86400000)
local latest = tonumber(redis.call('GET', KEYS[3]) or '0')
if latest > tonumber(ARGV[4]) then return false end
redis.call('SET', KEYS[3], ARGV[4], 'PX', 86400000)
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'a', ARGV[2])
redis.call('PUBLISH', ARGV[1], id .. ' ' .. ARGV[2])
return id`;

export const DEFAULT_STREAM_LENGTH = 10_000;

/** Adds committed changes to their tenant's stream and channel (the outbox relay calls it). */
export class RedisChangePublisher {
  private readonly keys: ChangeFeedKeys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly maxLength = DEFAULT_STREAM_LENGTH,
  ) {
    this.keys = changeFeedKeys(prefix);
    if (!('wxlivePublishChange' in redis)) {
      redis.defineCommand('wxlivePublishChange', { numberOfKeys: 3, lua: PUBLISH_SCRIPT });
    }
  }

  /**
   * In order per tenant; resolves when Redis has them all, rejects when any failed. Answers each
   * change's stream id (its cursor), or null for one the stream already had (published before)
   * or that a newer change of its application superseded.
   */
  async publish(changes: readonly RecordedChange[]): Promise<Map<number, string | null>> {
    // A Redis Cluster pipeline must stay on one slot: one pipeline per tenant (its stream's hash
    // tag), in parallel; each tenant's changes keep their order.
    const byTenant = new Map<string, RecordedChange[]>();
    for (const c of changes) {
      const list = byTenant.get(c.application.tenantId);
      if (list) list.push(c);
      else byTenant.set(c.application.tenantId, [c]);
    }
    const cursors = new Map<number, string | null>();
    await Promise.all([...byTenant.values()].map((list) => this.publishTenant(list, cursors)));
    return cursors;
  }

  private async publishTenant(changes: readonly RecordedChange[], cursors: Map<number, string | null>): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const { outboxId, application } of changes) {
      const tenantId = application.tenantId;
      (pipeline as unknown as PublishCommand).wxlivePublishChange(
        this.keys.stream(tenantId),
        this.keys.published(tenantId),
        this.keys.latest(tenantId, application.id),
        this.keys.channel(tenantId),
        JSON.stringify(application),
        String(this.maxLength),
        String(outboxId),
      );
    }
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
    changes.forEach(({ outboxId }, i) => {
      const id = results?.[i]?.[1];
      cursors.set(outboxId, typeof id === 'string' ? id : null);
    });
  }
}

interface PublishCommand {
  wxlivePublishChange(stream: string, published: string, latest: string, channel: string, payload: string, maxLen: string, outboxId: string): unknown;
}

/** Parses a pub/sub message ("<cursor> <json>") back into a change. */
export function parseChangeMessage(message: string): ApplicationChange {
  const space = message.indexOf(' ');
  return { cursor: message.slice(0, space), application: JSON.parse(message.slice(space + 1)) as LiveApplicationView };
}

/** Changes of one tenant after a cursor (exclusive), oldest first, for resumable subscriptions. */
export async function replayChanges(redis: RedisClient, prefix: string, tenantId: string, after: string, count = 1000): Promise<ApplicationChange[]> {
  const entries = await redis.xrange(changeFeedKeys(prefix).stream(tenantId), `(${after}`, '+', 'COUNT', count);
  return entries.map(([id, fields]) => ({ cursor: id, application: JSON.parse(fields[1] ?? 'null') as LiveApplicationView }));
}
