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

  it('reads SECRET_KEY as the one key k0, the id values sealed before SECRET_KEYS carry', () => {
    const key = Buffer.alloc(32, 7);
    expect(loadConfig({ SECRET_KEY: key.toString('base64') }).secretKeys).toEqual([{ id: 'k0', key }]);
  });

  it('reads SECRET_KEYS as key ids and keys, the sealing key first', () => {
    const [k2, k1] = [Buffer.alloc(32, 2), Buffer.alloc(32, 1)];
    expect(loadConfig({ SECRET_KEYS: `k2:${k2.toString('base64')}, k1:${k1.toString('base64')}` }).secretKeys).toEqual([
      { id: 'k2', key: k2 },
      { id: 'k1', key: k1 },
    ]);
  });

  it.each([
    ['no key id', Buffer.alloc(32).toString('base64'), /entry 1 has no key id/],
    ['a short key', `k2:${Buffer.alloc(32).toString('base64')},k1:c2hvcnQ=`, /key k1 is not 32 bytes/],
    ['a repeated id', `k1:${Buffer.alloc(32).toString('base64')},k1:${Buffer.alloc(32, 1).toString('base64')}`, /key id k1 appears twice/],
    ['an id with a dot', `k.1:${Buffer.alloc(32).toString('base64')}`, /entry 1 has no key id/],
  ])('stops on SECRET_KEYS with %s, in one line naming it and never echoing a key', (_case, value, message) => {
    const error = (() => {
      try {
        loadConfig({ SECRET_KEYS: value });
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    const text = (error as Error).message;
    expect(text).toMatch(/^SECRET_KEYS: /);
    expect(text).toMatch(message);
    expect(text).not.toContain('\n');
    for (const part of value.split(/[,:]/).filter((p) => p.length > 8)) expect(text).not.toContain(part);
  });

  it('refuses SECRET_KEY and SECRET_KEYS together', () => {
    const key = Buffer.alloc(32).toString('base64');
    expect(() => loadConfig({ SECRET_KEY: key, SECRET_KEYS: `k1:${key}` })).toThrow(/^SECRET_KEYS: set it or SECRET_KEY, not both/);
  });
});

describe('worker tuning (JOBS_*)', () => {
  it('defaults to production values and names a malformed variable', () => {
    expect(loadConfig({}).jobs).toEqual({
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
      reconcileIntervalMs: 60_000,
      ticketWaitMs: 600_000,
      retentionIntervalMs: 600_000,
    });
    expect(loadConfig({ JOBS_LOCK_DURATION_MS: '1500' }).jobs.lockDurationMs).toBe(1500);
    expect(() => loadConfig({ JOBS_LOCK_DURATION_MS: 'soon' })).toThrow(/^JOBS_LOCK_DURATION_MS: /);
  });

  it('keeps retention and the credential overlap at their defaults, and refuses a retention not longer than the replay window', () => {
    expect(loadConfig({}).retention).toEqual({ inboxMs: 7 * 86_400_000, deliveryMs: 7 * 86_400_000, liveEventMs: 7 * 86_400_000 });
    expect(loadConfig({}).credentialOverlapMs).toBe(60 * 60_000);
    expect(() => loadConfig({ INBOX_RETENTION_DAYS: '0' })).toThrow(/^INBOX_RETENTION_DAYS: /);
    expect(() => loadConfig({ INBOX_RETENTION_DAYS: '1', WEBHOOK_REPLAY_WINDOW_SECONDS: '86400' })).toThrow(/^WEBHOOK_REPLAY_WINDOW_SECONDS: must be shorter/);
  });
});
