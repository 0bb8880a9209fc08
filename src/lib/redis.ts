import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/config.js';

/**
 * A standalone Redis or a Redis Cluster. Every key carries a hash tag (`{t:<tenant>}`,
 * `{wx:<component>}`, `{<prefix>}` for BullMQ), so scripts and pipelines stay on one slot on both.
 */
export type RedisClient = Redis | Cluster;

/**
 * - `commands`: queue producers, limiter, tokens, change feed; a command fails after a few
 *   reconnects instead of holding a request forever.
 * - `worker`: BullMQ's worker, whose blocking commands require `maxRetriesPerRequest: null`.
 * - `subscriber`: the change feed's psubscribe, which must outlive any outage.
 */
export type RedisPurpose = 'commands' | 'worker' | 'subscriber';

export interface CreateRedisOptions {
  purpose: RedisPurpose;
  /** Connect on `connect()` and give up after a few failed attempts (the CLI answers with one line). */
  failFast?: boolean;
}

/** Every Redis connection the gateway opens, from `REDIS_CLUSTER_NODES` when set, else `REDIS_URL`. */
export function createRedis(config: Pick<Config, 'redisUrl' | 'redisClusterNodes'>, options: CreateRedisOptions): RedisClient {
  const giveUp = (times: number) => (times > 2 ? null : 200);
  const redisOptions: RedisOptions = {
    maxRetriesPerRequest: options.purpose === 'commands' ? (options.failFast ? 2 : 3) : null,
    ...(options.failFast ? { connectTimeout: 5000 } : {}),
  };
  if (config.redisClusterNodes) {
    // On a Cluster the per-node options (BullMQ reads maxRetriesPerRequest there) go in redisOptions.
    const clusterOptions: ClusterOptions = { redisOptions, ...(options.failFast ? { lazyConnect: true, clusterRetryStrategy: giveUp } : {}) };
    return new Cluster(config.redisClusterNodes, clusterOptions);
  }
  return new Redis(config.redisUrl, { ...redisOptions, ...(options.failFast ? { lazyConnect: true, retryStrategy: giveUp } : {}) });
}
