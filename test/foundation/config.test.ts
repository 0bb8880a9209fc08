import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

describe('configuration', () => {
  it('applies defaults when nothing is set', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 4000,
      redisUrl: 'redis://127.0.0.1:6379',
      wechatApiBase: 'https://api.weixin.qq.com',
      role: 'all',
      databaseUrl: undefined,
    });
  });

  it.each([
    ['PORT', 'eighty', /^PORT: /],
    ['SECRET_KEY', 'c2hvcnQ=', /^SECRET_KEY: expected 32 random bytes in base64/],
    ['ROLE', 'web', /^ROLE: /],
    ['DATABASE_URL', 'not a url', /^DATABASE_URL: expected a postgres:\/\/ URL/],
    ['REDIS_CLUSTER_NODES', '10.0.0.1:7000,10.0.0.2', /^REDIS_CLUSTER_NODES: expected comma-separated host:port pairs/],
  ])('names %s when it is malformed', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it('reads REDIS_CLUSTER_NODES as the seed nodes of a Redis Cluster, unset by default', () => {
    expect(loadConfig({}).redisClusterNodes).toBeUndefined();
    expect(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b:7001,[::1]:7002' }).redisClusterNodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-b', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
  });

  it('decodes SECRET_KEY to 32 bytes', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    expect(loadConfig({ SECRET_KEY: key }).secretKey?.length).toBe(32);
  });
});

describe('worker tuning (JOBS_*)', () => {
  it('defaults to production values and names a malformed variable', () => {
    expect(loadConfig({}).jobs).toEqual({ lockDurationMs: 30_000, stalledIntervalMs: 30_000, reconcileIntervalMs: 60_000, ticketWaitMs: 600_000 });
    expect(loadConfig({ JOBS_LOCK_DURATION_MS: '1500' }).jobs.lockDurationMs).toBe(1500);
    expect(() => loadConfig({ JOBS_LOCK_DURATION_MS: 'soon' })).toThrow(/^JOBS_LOCK_DURATION_MS: /);
  });
});
