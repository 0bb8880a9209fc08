import type { RedisClient } from '../lib/redis.js';
import type { LiveApplicationView } from '../services/live-application.view.js';
import type { ChangePublisher } from '../services/ports.js';

/** A change as delivered to subscribers: the application's new state and its per-tenant cursor. */
export interface ApplicationChange {
  cursor: string;
  application: LiveApplicationView;
}

export interface ChangeFeedKeys {
  stream(tenantId: string): string;
  channel(tenantId: string): string;
  channelPattern: string;
}

export function changeFeedKeys(prefix: string): ChangeFeedKeys {
  return {
    // Hash tag: the tenant's stream lives on one Cluster slot.
    stream: (tenantId) => `${prefix}:{t:${tenantId}}:changes`,
    channel: (tenantId) => `${prefix}:changes:${tenantId}`,
    channelPattern: `${prefix}:changes:*`,
  };
}

/**
 * XADD then PUBLISH in one script, so the cursor subscribers receive is the stream id a
 * reconnecting console resumes after, and no change is published without being kept.
 */
const PUBLISH_SCRIPT = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'a', ARGV[2])
redis.call('PUBLISH', ARGV[1], id .. ' ' .. ARGV[2])
return id`;

export const DEFAULT_STREAM_LENGTH = 10_000;

export class RedisChangePublisher implements ChangePublisher {
  private readonly keys: ChangeFeedKeys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly maxLength = DEFAULT_STREAM_LENGTH,
  ) {
    this.keys = changeFeedKeys(prefix);
    if (!('wxlivePublishChange' in redis)) {
      redis.defineCommand('wxlivePublishChange', { numberOfKeys: 1, lua: PUBLISH_SCRIPT });
    }
  }

  async publish(changes: readonly LiveApplicationView[]): Promise<void> {
    // A Redis Cluster pipeline must stay on one slot: one pipeline per tenant (its stream's hash
    // tag), in parallel; each tenant's changes keep their order.
    const byTenant = new Map<string, LiveApplicationView[]>();
    for (const c of changes) {
      const list = byTenant.get(c.tenantId);
      if (list) list.push(c);
      else byTenant.set(c.tenantId, [c]);
    }
    await Promise.all([...byTenant.values()].map((list) => this.publishTenant(list)));
  }

  private async publishTenant(changes: readonly LiveApplicationView[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const c of changes) {
      (pipeline as unknown as PublishCommand).wxlivePublishChange(
        this.keys.stream(c.tenantId),
        this.keys.channel(c.tenantId),
        JSON.stringify(c),
        String(this.maxLength),
      );
    }
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }
}

interface PublishCommand {
  wxlivePublishChange(stream: string, channel: string, payload: string, maxLen: string): unknown;
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
