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
  ])('names %s when it is malformed', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it('decodes SECRET_KEY to 32 bytes', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    expect(loadConfig({ SECRET_KEY: key }).secretKey?.length).toBe(32);
  });
});
