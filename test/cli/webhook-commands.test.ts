import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { runWxlive } from './cli-process.js';

let env: TestEnv;
let cliEnv: Record<string, string>;

beforeAll(async () => {
  env = await createTestEnv();
  cliEnv = { DATABASE_URL: env.databaseUrl, REDIS_URL: env.redisUrl, REDIS_PREFIX: env.redisPrefix, SECRET_KEY: env.secretKey.toString('base64') };
});

afterAll(async () => {
  await env?.cleanup();
});

describe('wxlive webhook', () => {
  it('creates an endpoint, printing its id and the secret once; list shows it without the secret', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const local = { ...cliEnv, WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' };
    const created = await runWxlive(
      [
        'webhook',
        'create',
        '--tenant',
        t.tenant.id,
        '--url',
        'http://127.0.0.1:8080/wechat',
        '--kind',
        'relay',
        '--events',
        'text,component_verify_ticket',
        '--json',
      ],
      local,
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const body = JSON.parse(created.stdout) as { id: string; kind: string; events: string[]; secret: string };
    expect(body).toMatchObject({ kind: 'RELAY', events: ['text', 'component_verify_ticket'] });
    expect(body.secret).toMatch(/^whsec_/);

    const list = await runWxlive(['webhook', 'list', '--tenant', t.tenant.id, '--json'], cliEnv);
    expect(list.code).toBe(0);
    const listed = JSON.parse(list.stdout) as { endpoints: { id: string; url: string; enabled: boolean }[] };
    expect(listed.endpoints).toMatchObject([{ id: body.id, url: 'http://127.0.0.1:8080/wechat', enabled: true }]);
    expect(list.stdout).not.toContain(body.secret);
  });

  it('refuses an http URL by default, in one line saying what to do', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const run = await runWxlive(['webhook', 'create', '--tenant', t.tenant.id, '--url', 'http://hooks.example.com/x', '--kind', 'events'], cliEnv);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('WEBHOOK_ALLOW_HTTP');
    expect(run.stderr).toContain('uses http, not https');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr.split('WEBHOOK_ALLOW_HTTP')).toHaveLength(2);
  });
});
