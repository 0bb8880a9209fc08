import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';
import type { ApiKeyInvalidation, ApiKeyInvalidations } from '../services/ports.js';

/** One channel for every instance (PUBLISH reaches every node of a Cluster, so no hash tag is needed). */
export const apiKeyInvalidationChannel = (prefix: string) => `${prefix}:apikeys:invalidate`;

/** Publishes over the commands connection; never rejects (see ApiKeyInvalidations). */
export class RedisApiKeyInvalidations implements ApiKeyInvalidations {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {}

  async publish(invalidation: ApiKeyInvalidation): Promise<void> {
    try {
      await this.redis.publish(apiKeyInvalidationChannel(this.prefix), JSON.stringify(invalidation));
    } catch (err) {
      this.logger.warn({ err, invalidation }, 'could not tell other instances to forget API keys; their caches forget them when the entries expire');
    }
  }
}

/**
 * Hears every instance's invalidations on the instance's subscriber connection and hands them
 * to `forget`. A message published while this connection was down is lost, so each time the
 * connection is ready again (ioredis resubscribes by itself) everything is forgotten.
 */
export async function listenForApiKeyInvalidations(
  subscriber: RedisClient,
  prefix: string,
  forget: (invalidation: ApiKeyInvalidation | 'all') => void,
  logger: Logger,
): Promise<void> {
  const channel = apiKeyInvalidationChannel(prefix);
  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    const parsed = parseInvalidation(message);
    if (parsed) return forget(parsed);
    logger.error({ channel }, 'unparseable API key invalidation; forgetting every cached key');
    forget('all');
  });
  // Subscribing during ioredis's ready check fails ("Connection in subscriber mode"): wait for ready.
  if (subscriber.status !== 'ready') await new Promise<void>((resolve) => subscriber.once('ready', () => resolve()));
  await subscriber.subscribe(channel);
  subscriber.on('ready', () => forget('all'));
}

function parseInvalidation(message: string): ApiKeyInvalidation | undefined {
  try {
    const value = JSON.parse(message) as unknown;
    if (typeof value !== 'object' || value === null) return undefined;
    const v = value as Record<string, unknown>;
    if (Array.isArray(v.keyIds) && v.keyIds.every((id) => typeof id === 'string')) return { keyIds: v.keyIds as string[] };
    if (typeof v.tenantId === 'string') return { tenantId: v.tenantId };
    return undefined;
  } catch {
    return undefined;
  }
}
