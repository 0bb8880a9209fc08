import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPLY_QUEUE_NAME, type ApplyJobData } from '../../src/jobs/apply-queue.js';
import { bullPrefix } from '../../src/jobs/quota-keys.js';
import { ManualClock, systemClock } from '../../src/lib/clock.js';
import { AuthorizersService } from '../../src/services/authorizers.service.js';
import { systemContext } from '../../src/services/context.js';
import { TenantsService } from '../../src/services/tenants.service.js';
import { createTenantWithMerchants, randomAppId, randomEncodingAesKey } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { cliInvocation, runWxlive } from './cli-process.js';

let env: TestEnv;
let cliEnv: Record<string, string>;
const wxlive = (...args: string[]) => runWxlive(args, cliEnv);
const parse = <T>(stdout: string): T => JSON.parse(stdout) as T;

beforeAll(async () => {
  env = await createTestEnv();
  cliEnv = {
    DATABASE_URL: env.databaseUrl,
    REDIS_URL: env.redisUrl,
    REDIS_PREFIX: env.redisPrefix,
    SECRET_KEY: env.secretKey.toString('base64'),
  };
});

afterAll(async () => {
  await env?.cleanup();
});

describe(`wxlive CLI (${cliInvocation().mode})`, () => {
  it('creates a tenant, prints its id and a working write key as JSON, and never prints its secrets', async () => {
    const secrets = { secret: 'component-secret-4f1e', token: 'msgtoken7c2a', aes: randomEncodingAesKey() };
    const run = await wxlive(
      'tenant',
      'create',
      '--name',
      'Acme Provider',
      '--component-app-id',
      randomAppId(),
      '--component-app-secret',
      secrets.secret,
      '--token',
      secrets.token,
      '--encoding-aes-key',
      secrets.aes,
      '--daily-quota-per-tenant',
      '500',
      '--json',
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const body = parse<{ tenant: { id: string; name: string; dailyQuotaPerTenant: number | null }; apiKey: string }>(run.stdout);
    expect(body.tenant).toMatchObject({ name: 'Acme Provider', dailyQuotaPerTenant: 500 });
    const ctx = await new TenantsService(env.database.db, env.box, systemClock).authenticate(body.apiKey);
    expect(ctx).toMatchObject({ tenantId: body.tenant.id, scopes: new Set(['read', 'write']) });
    for (const s of Object.values(secrets)) expect(run.stdout).not.toContain(s);

    const update = await wxlive('tenant', 'update', '--tenant', body.tenant.id, '--daily-quota-per-tenant', 'unlimited', '--json');
    expect(update.code).toBe(0);
    expect(parse<{ tenant: { dailyQuotaPerTenant: number | null } }>(update.stdout).tenant.dailyQuotaPerTenant).toBeNull();
    const rate = await wxlive('tenant', 'update', '--tenant', body.tenant.id, '--rate-limit', '200', '--rate-burst', 'default', '--json');
    expect(rate.code).toBe(0);
    expect(parse<{ tenant: { rateLimitPerSecond: number | null; rateLimitBurst: number | null } }>(rate.stdout).tenant).toMatchObject({
      rateLimitPerSecond: 200,
      rateLimitBurst: null,
    });
    const badRate = await wxlive('tenant', 'update', '--tenant', body.tenant.id, '--rate-limit', '0');
    expect(badRate.code).toBe(2);
    expect(badRate.stderr).toContain('--rate-limit expects a whole number');
    // Credential rotation: the previous token and key stay accepted for the overlap window; nothing secret printed.
    const aes = randomEncodingAesKey();
    const rotate = await wxlive('tenant', 'update', '--tenant', body.tenant.id, '--token', 'rotatedtoken9', '--encoding-aes-key', aes, '--json');
    expect(rotate.stderr).toBe('');
    expect(rotate.code).toBe(0);
    expect(parse<{ previousCredentialsAcceptedUntil: string }>(rotate.stdout).previousCredentialsAcceptedUntil).toMatch(/^20\d\d-/);
    expect(rotate.stdout).not.toContain(aes);
    expect(await new TenantsService(env.database.db, env.box, systemClock).crypto(body.tenant.id)).toMatchObject({
      token: 'rotatedtoken9',
      encodingAesKey: aes,
      previous: { token: secrets.token, encodingAesKey: secrets.aes },
    });
    const refused = await wxlive('tenant', 'update', '--tenant', body.tenant.id, '--token', 'no spaces allowed');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('token must be 3 to 32 letters and digits');

    const list = await wxlive('tenant', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(body.tenant.id);
    expect(list.stdout).toContain('unlimited');
    for (const s of Object.values(secrets)) expect(list.stdout).not.toContain(s);
  }, 60_000);

  it('creates a read key and revokes it by prefix, after which it no longer authenticates', async () => {
    const { tenant } = await createTenantWithMerchants(env.database.db, env.box);
    const tenants = new TenantsService(env.database.db, env.box, systemClock);

    const created = await wxlive('apikey', 'create', '--tenant', tenant.id, '--scope', 'read', '--json');
    expect(created.code).toBe(0);
    const key = parse<{ apiKey: string; id: string; prefix: string; scopes: string[] }>(created.stdout);
    expect(key.scopes).toEqual(['read']);
    expect(await tenants.authenticate(key.apiKey)).toEqual({ tenantId: tenant.id, scopes: new Set(['read']), apiKeyId: key.id });

    const revoked = await wxlive('apikey', 'revoke', '--tenant', tenant.id, '--key', key.prefix);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain('Revoked 1 API key');
    expect(await tenants.authenticate(key.apiKey)).toBeUndefined();

    const again = await wxlive('apikey', 'revoke', '--tenant', tenant.id, '--key', key.prefix);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('No active API key');

    const list = await wxlive('apikey', 'list', '--tenant', tenant.id, '--json');
    const keys = parse<{ apiKeys: { prefix: string; revokedAt: string | null }[] }>(list.stdout).apiKeys;
    expect(keys).toHaveLength(2);
    expect(keys.find((k) => k.prefix === key.prefix)?.revokedAt).not.toBeNull();
    expect(list.stdout).not.toContain(key.apiKey);
  }, 60_000);

  it('creates a named key that expires, lists its expiry and last use, and an expired key no longer authenticates', async () => {
    const { tenant } = await createTenantWithMerchants(env.database.db, env.box);
    // One instant for both: the expiry is an hour after the clock's start, so advancing an hour lands on it exactly.
    const start = Date.now();
    const clock = new ManualClock(start);
    const tenants = new TenantsService(env.database.db, env.box, clock);
    const expiresAt = new Date(start + 3_600_000).toISOString();
    const created = await wxlive('apikey', 'create', '--tenant', tenant.id, '--scope', 'read', '--name', 'nightly export', '--expires-at', expiresAt, '--json');
    expect(created.code).toBe(0);
    const key = parse<{ apiKey: string; id: string; name: string; expiresAt: string }>(created.stdout);
    expect(key).toMatchObject({ name: 'nightly export', expiresAt });
    expect(await tenants.authenticate(key.apiKey)).toMatchObject({ tenantId: tenant.id });
    const listed = parse<{ apiKeys: { id: string; name: string | null; expiresAt: string | null; lastUsedAt: string | null }[] }>(
      (await wxlive('apikey', 'list', '--tenant', tenant.id, '--json')).stdout,
    ).apiKeys.find((k) => k.id === key.id);
    expect(listed).toEqual(expect.objectContaining({ name: 'nightly export', expiresAt, lastUsedAt: new Date(clock.now()).toISOString() }));
    expect((await wxlive('apikey', 'list', '--tenant', tenant.id)).stdout).toMatch(/LAST USED[\s\S]*nightly export/);
    clock.advance(3_600_000);
    expect(await tenants.authenticate(key.apiKey)).toBeUndefined();

    const past = await wxlive('apikey', 'create', '--tenant', tenant.id, '--expires-at', '2020-01-01');
    expect(past.code).not.toBe(0);
    expect(past.stderr).toContain('not in the future');
    const malformed = await wxlive('apikey', 'create', '--tenant', tenant.id, '--expires-at', 'tomorrow');
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('--expires-at expects an ISO 8601 date');
  }, 60_000);

  it('creates a key with several scopes, repeated or comma-separated, and lists them', async () => {
    const { tenant } = await createTenantWithMerchants(env.database.db, env.box);
    const tenants = new TenantsService(env.database.db, env.box, systemClock);
    const created = await wxlive('apikey', 'create', '--tenant', tenant.id, '--scope', 'token', '--scope', 'admin,token', '--json');
    expect(created.code).toBe(0);
    const key = parse<{ apiKey: string; id: string; scopes: string[] }>(created.stdout);
    expect(key.scopes).toEqual(['token', 'admin']);
    expect(await tenants.authenticate(key.apiKey)).toEqual({ tenantId: tenant.id, scopes: new Set(['token', 'admin']), apiKeyId: key.id });
    const human = await wxlive('apikey', 'create', '--tenant', tenant.id, '--scope', 'write');
    expect(human.stdout).toContain('scopes read, write');

    const list = await wxlive('apikey', 'list', '--tenant', tenant.id, '--json');
    const keys = parse<{ apiKeys: { id: string; scopes: string[] }[] }>(list.stdout).apiKeys;
    expect(keys.map((k) => k.scopes)).toEqual([
      ['read', 'write'],
      ['token', 'admin'],
      ['read', 'write'],
    ]);
    expect((await wxlive('apikey', 'list', '--tenant', tenant.id)).stdout).toMatch(/token,admin/);
  }, 60_000);

  it('imports an authorizer with its permission sets, keeping the refresh token out of the output', async () => {
    const { tenant } = await createTenantWithMerchants(env.database.db, env.box);
    const appId = randomAppId();
    const run = await wxlive(
      'authorizer',
      'import',
      '--tenant',
      tenant.id,
      '--app-id',
      appId,
      '--refresh-token',
      'refresh-secret-91',
      '--permission-sets',
      '1,52',
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(appId);
    expect(run.stdout + run.stderr).not.toContain('refresh-secret-91');
    const authorizer = await new AuthorizersService(env.database.db, env.box, systemClock).get(systemContext(tenant.id), appId);
    expect(authorizer).toMatchObject({ appId, status: 'AUTHORIZED', permissionSets: [1, 52] });
  }, 60_000);

  it('applies from a CSV in batches: queues valid merchants, imports refresh-token rows, and reports invalid and unknown ones', async () => {
    const { tenant, appIds } = await createTenantWithMerchants(env.database.db, env.box, 2);
    const [known1, known2] = appIds as [string, string];
    const fresh = randomAppId();
    const unknown = randomAppId();
    const file = join(tmpdir(), `wxlive-cli-${env.redisPrefix}.csv`);
    // Line numbers: header 1, then 2..6; a blank line at the end is not a merchant.
    await writeFile(file, `app_id,refresh_token\n${known1},\n"${known2}",\n${fresh},rt-fresh-secret\nnot-an-app-id,\n${unknown},\n\n`);

    const run = await wxlive('apply', '--tenant', tenant.id, '--file', file, '--json');
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('applying: 5/5');
    const summary = parse<{ total: number; imported: number; byStatus: Record<string, number>; errors: { line: number; appId: string; code: string }[] }>(
      run.stdout,
    );
    expect(summary).toMatchObject({ total: 5, imported: 1, byStatus: { QUEUED: 3 } });
    expect(summary.errors.map(({ line, appId, code }) => ({ line, appId, code }))).toEqual([
      { line: 5, appId: 'not-an-app-id', code: 'INVALID_APP_ID' },
      { line: 6, appId: unknown, code: 'AUTHORIZER_NOT_FOUND' },
    ]);
    expect(run.stdout).not.toContain('rt-fresh-secret');

    // The applications exist and each has its BullMQ job.
    const list = await wxlive('application', 'list', '--tenant', tenant.id, '--status', 'QUEUED', '--json');
    const applications = parse<{ applications: { id: string; appId: string }[] }>(list.stdout).applications;
    expect(applications.map((a) => a.appId).sort()).toEqual([known1, known2, fresh].sort());
    const queue = new Queue<ApplyJobData>(APPLY_QUEUE_NAME, { connection: env.newRedis(), prefix: bullPrefix(env.redisPrefix) });
    try {
      const jobs = await queue.getJobs(['waiting', 'prioritized', 'delayed']);
      expect(jobs.map((j) => j.data.applicationId).sort()).toEqual(applications.map((a) => a.id).sort());
    } finally {
      await queue.close();
    }

    // Again, for humans: the active applications are reused, and the summary shows counts and errors.
    const human = await wxlive('apply', '--tenant', tenant.id, '--file', file);
    expect(human.code).toBe(3);
    expect(human.stdout).toMatch(/QUEUED\s+3/);
    expect(human.stdout).toMatch(/INVALID_APP_ID\s+1/);
    expect(human.stdout).toMatch(/AUTHORIZER_NOT_FOUND\s+1/);
    expect(human.stdout).toContain(unknown);
  }, 60_000);

  it('exits 2 with the usage on stderr for bad arguments', async () => {
    const cases = [
      [],
      ['launch'],
      ['tenant'],
      ['tenant', 'create', '--name', 'x', '--bogus'],
      ['apikey', 'create'],
      ['apikey', 'create', '--tenant', 'not-a-uuid'],
      ['apikey', 'create', '--tenant', '00000000-0000-0000-0000-000000000000', '--scope', 'read,superuser'],
      ['tenant', 'update', '--tenant', '00000000-0000-0000-0000-000000000000'],
      ['application', 'list', '--tenant', '00000000-0000-0000-0000-000000000000', '--first', 'ten'],
      ['apply', '--tenant', '00000000-0000-0000-0000-000000000000', 'extra'],
    ];
    const runs = await Promise.all(cases.map((args) => wxlive(...args)));
    runs.forEach((run, i) => {
      expect({ args: cases[i], code: run.code }).toEqual({ args: cases[i], code: 2 });
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^wxlive: .+\n\nUsage: wxlive /);
    });
  }, 60_000);

  it('prints one line and exits 1 for a configuration problem or an unknown tenant', async () => {
    const tenant = '00000000-0000-0000-0000-000000000000';
    const [noKey, badKey, unknown] = await Promise.all([
      runWxlive(['tenant', 'list'], { ...cliEnv, SECRET_KEY: '' }),
      runWxlive(['tenant', 'list'], { ...cliEnv, SECRET_KEY: 'c2hvcnQ=' }),
      wxlive('apikey', 'list', '--tenant', tenant, '--json'),
    ]);
    expect(noKey).toMatchObject({ code: 1, stdout: '' });
    expect(noKey.stderr).toMatch(/^wxlive: SECRET_KEY: required by the CLI[^\n]*\n$/);
    expect(badKey).toMatchObject({ code: 1 });
    expect(badKey.stderr).toMatch(/^wxlive: SECRET_KEY: expected 32 random bytes[^\n]*\n$/);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(`wxlive: Tenant ${tenant} does not exist. No such tenant.\n`);
    expect(parse<{ error: { code: string } }>(unknown.stdout).error.code).toBe('TENANT_NOT_FOUND');
  }, 60_000);
});
