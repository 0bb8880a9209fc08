import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { type RealApp, startRealApp } from '../security/support/real-app.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';

const CONSOLE = 'https://console.example.com';
let env: TestEnv;
let listed: RealApp;
let closed: RealApp;
let key: string;

beforeAll(async () => {
  env = await createTestEnv();
  listed = await startRealApp(env, { ROLE: 'api', LOG_LEVEL: 'warn', CORS_ORIGINS: `${CONSOLE}, http://localhost:5173` });
  closed = await startRealApp(env, { ROLE: 'api', LOG_LEVEL: 'warn' });
  key = (await listed.tenant()).apiKey;
});
afterAll(async () => {
  await listed?.stop();
  await closed?.stop();
  await env?.cleanup();
});

const preflight = (app: RealApp, origin: string) =>
  app.fetch('/graphql', {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  });

describe('CORS on /graphql', () => {
  it('answers a listed origin’s preflight, and its requests, without ever allowing credentials', async () => {
    const pre = await preflight(listed, CONSOLE);
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(CONSOLE);
    expect(pre.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull();
    expect(pre.headers.get('vary')).toContain('Origin');

    const res = await listed.graphql('{ tenant { id } }', {}, key, { origin: CONSOLE });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(CONSOLE);
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('gives an origin not listed no CORS headers, and refuses its preflight saying what to set', async () => {
    const pre = await preflight(listed, 'https://evil.example');
    expect(pre.status).toBe(403);
    expect(pre.text).toContain('CORS_ORIGINS');
    const res = await listed.graphql('{ tenant { id } }', {}, key, { origin: 'https://evil.example' });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('sends no CORS headers at all by default', async () => {
    const res = await closed.graphql('{ tenant { id } }', {}, key, { origin: CONSOLE });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect((await preflight(closed, CONSOLE)).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a malformed CORS_ORIGINS at start-up, naming it', () => {
    expect(() => loadConfig({ SECRET_KEY: Buffer.alloc(32).toString('base64'), CORS_ORIGINS: 'console.example.com/path' })).toThrow(/CORS_ORIGINS/);
  });
});
