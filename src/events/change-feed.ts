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
  /**
   * The stream's origin: it holds every change with a stream id at or after this one (apart from
   * what length trimming removed, which Redis records as the stream's max-deleted-entry-id). Set
   * by the first change a fresh stream takes, so a stream Redis lost (restarted without
   * persistence) is told apart from one that is complete.
   */
  origin(tenantId: string): string;
  channel(tenantId: string): string;
  channelPattern: string;
}

export function changeFeedKeys(prefix: string): ChangeFeedKeys {
  return {
    // Hash tag: the tenant's stream lives on one Cluster slot.
    stream: (tenantId) => `${prefix}:{t:${tenantId}}:changes`,
    published: (tenantId) => `${prefix}:{t:${tenantId}}:published`,
    latest: (tenantId, applicationId) => `${prefix}:{t:${tenantId}}:latest:${applicationId}`,
    origin: (tenantId) => `${prefix}:{t:${tenantId}}:origin`,
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
 *
 * The first change of a fresh stream sets its origin to its own id; a stream that existed before
 * origins were kept is complete from the start ('0-0').
 */
const PUBLISH_SCRIPT = `
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZADD', KEYS[2], 'NX', nowMs, ARGV[4]) == 0 then return false end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', nowMs - 86400000)
local latest = tonumber(redis.call('GET', KEYS[3]) or '0')
if latest > tonumber(ARGV[4]) then return false end
redis.call('SET', KEYS[3], ARGV[4], 'PX', 86400000)
local fresh = redis.call('EXISTS', KEYS[1]) == 0
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'a', ARGV[2])
if redis.call('EXISTS', KEYS[4]) == 0 then redis.call('SET', KEYS[4], fresh and id or '0-0') end
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
      redis.defineCommand('wxlivePublishChange', { numberOfKeys: 4, lua: PUBLISH_SCRIPT });
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
        this.keys.origin(tenantId),
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
  wxlivePublishChange(
    stream: string,
    published: string,
    latest: string,
    origin: string,
    channel: string,
    payload: string,
    maxLen: string,
    outboxId: string,
  ): unknown;
}

/** Parses a pub/sub message ("<cursor> <json>") back into a change. */
export function parseChangeMessage(message: string): ApplicationChange {
  const space = message.indexOf(' ');
  return { cursor: message.slice(0, space), application: JSON.parse(message.slice(space + 1)) as LiveApplicationView };
}

/** Changes after a cursor, and whether they are all of them. */
export interface StreamReplay {
  /**
   * False when the stream cannot vouch for every change after the cursor: Redis lost it (restarted
   * without persistence: no origin, or an origin after the cursor) or trimmed past the cursor
   * (more than the stream's length of changes since). `changes` is then what the stream still
   * has; the rest is only in Postgres.
   */
  complete: boolean;
  changes: ApplicationChange[];
}

/**
 * XRANGE after a cursor (what the stream has, always), with the stream's word on whether that is
 * everything after it. KEYS: stream, origin; ARGV: cursor (exclusive), count. Incomplete when the origin is after the
 * cursor (Redis lost the stream), or when length trimming removed entries and the cursor is
 * before the oldest one kept (Redis does not record the last trimmed id, so a cursor that was
 * exactly that entry counts as incomplete too). A stream without an origin is one kept before
 * origins were (complete, and given '0-0' now); no origin and no stream means Redis lost it.
 */
const REPLAY_SCRIPT = `
local function parse(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end
local exists = redis.call('EXISTS', KEYS[1]) == 1
local origin = redis.call('GET', KEYS[2])
if not origin then
  if not exists then return {0, {}} end
  origin = '0-0'
  redis.call('SET', KEYS[2], origin)
end
if not exists then return {1, {}} end
local complete = 1
local cm, cs = parse(ARGV[1])
local om, os = parse(origin)
-- Every change after the cursor was kept when the cursor is at least the id right before the origin.
if os > 0 then
  if cm < om or (cm == om and cs < os - 1) then complete = 0 end
elseif cm < om - 1 or (cm == om - 1 and cs < 18446744073709551615) then
  complete = 0
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local fields = {}
for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
local first = fields['first-entry']
if first and tonumber(fields['entries-added']) > tonumber(fields['length']) then
  local fm, fs = parse(first[1])
  if cm < fm or (cm == fm and cs < fs) then complete = 0 end
end
return {complete, redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])}`;

/** Changes of one tenant after a cursor (exclusive), oldest first, for resumable subscriptions. */
export async function replayChanges(redis: RedisClient, prefix: string, tenantId: string, after: string, count = 1000): Promise<StreamReplay> {
  if (!('wxliveReplayChanges' in redis)) redis.defineCommand('wxliveReplayChanges', { numberOfKeys: 2, lua: REPLAY_SCRIPT });
  const keys = changeFeedKeys(prefix);
  const [complete, entries] = (await (redis as unknown as ReplayCommand).wxliveReplayChanges(
    keys.stream(tenantId),
    keys.origin(tenantId),
    after,
    String(count),
  )) as [number, [string, string[]][]];
  return {
    complete: complete === 1,
    changes: entries.map(([id, fields]) => ({ cursor: id, application: JSON.parse(fields[1] ?? 'null') as LiveApplicationView })),
  };
}

/** The greatest sequence number of a stream id: `${ms}-${MAX_SEQUENCE}` is the last id of that millisecond. */
export const MAX_SEQUENCE = '18446744073709551615';

/**
 * Redis's clock in ms, once the tenant's stream has an origin: every change added from now on
 * (this call's TIME or later) gets a cursor above `${ms - 1}-${MAX_SEQUENCE}`, and a replay from
 * that cursor is complete unless Redis loses the stream again. KEYS: stream, origin.
 */
const STREAM_TIME_SCRIPT = `
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[2]) == 0 then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('SET', KEYS[2], '0-0')
  else
    redis.call('SET', KEYS[2], nowMs .. '-0')
  end
end
return nowMs`;

/**
 * The cursor that divides changes added before now from those added after (all of the latter are
 * above it), for a reader about to take the current state from Postgres: what was added before
 * now was committed before, so that read sees it or a newer state.
 */
export async function streamCursorNow(redis: RedisClient, prefix: string, tenantId: string): Promise<string> {
  if (!('wxliveStreamTime' in redis)) redis.defineCommand('wxliveStreamTime', { numberOfKeys: 2, lua: STREAM_TIME_SCRIPT });
  const keys = changeFeedKeys(prefix);
  const nowMs = Number(await (redis as unknown as StreamTimeCommand).wxliveStreamTime(keys.stream(tenantId), keys.origin(tenantId)));
  return `${nowMs - 1}-${MAX_SEQUENCE}`;
}

interface StreamTimeCommand {
  wxliveStreamTime(stream: string, origin: string): Promise<unknown>;
}

interface ReplayCommand {
  wxliveReplayChanges(stream: string, origin: string, after: string, count: string): Promise<unknown>;
}
