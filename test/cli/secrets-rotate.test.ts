import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../src/db/client.js';
import { sealedColumns } from '../../src/db/sealed-columns.js';
import { webhookEndpoints } from '../../src/db/tables.js';
import { systemClock } from '../../src/lib/clock.js';
import { SecretBox, SecretBoxError } from '../../src/lib/secret-box.js';
import { PgCredentialStore } from '../../src/services/credential-store.pg.js';
import type { RotationSummary } from '../../src/services/secret-rotation.service.js';
import { TenantsService } from '../../src/services/tenants.service.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';
import { runWxlive } from './cli-process.js';

type Summary = RotationSummary & { totals: { reencrypted: number; current: number; changedMeanwhile: number; unreadable: number } };

let env: TestEnv;
const k1 = randomBytes(32);
const k2 = randomBytes(32);
const ring = (...keys: [string, Buffer][]) => keys.map(([id, key]) => `${id}:${key.toString('base64')}`).join(',');
const boxOf = (...keys: [string, Buffer][]) => new SecretBox(keys.map(([id, key]) => ({ id, key })));
const rotate = (secretKeys: string, ...args: string[]) =>
  runWxlive(['secrets', 'rotate', '--json', ...args], { DATABASE_URL: env.databaseUrl, SECRET_KEYS: secretKeys });
const column = (s: Summary, name: string) => s.columns.find((c) => c.column === name);

/** Every sealed value stored, by `table.column`. */
async function storedValues(): Promise<Map<string, string[]>> {
  const values = new Map<string, string[]>();
  for (const c of sealedColumns()) {
    const rows = rowsOf<{ v: string }>(
      await env.database.db.execute(sql`select ${sql.identifier(c.column)} as v from ${sql.identifier(c.table)} where ${sql.identifier(c.column)} is not null`),
    );
    values.set(
      `${c.table}.${c.column}`,
      rows.map((r) => r.v),
    );
  }
  return values;
}

beforeAll(async () => {
  env = await createTestEnv();
});

afterAll(async () => {
  await env?.cleanup();
});

describe('wxlive secrets rotate', () => {
  it('re-encrypts every *_enc column under the first key; values sealed under SECRET_KEY read the same after, and a second run finds them current', async () => {
    // Written the way a deployment from before SECRET_KEYS wrote them: SECRET_KEY alone (key k0, no id in the value).
    const { tenant, input, appIds } = await createTenantWithMerchants(env.database.db, env.box, 2);
    const legacyStore = new PgCredentialStore(env.database.db, env.box, systemClock);
    await legacyStore.saveTicket(tenant.id, 'ticket@@@legacy');
    const now = new Date();
    await env.database.db.insert(webhookEndpoints).values({
      tenantId: tenant.id,
      url: 'https://hooks.example.com/wx',
      kind: 'EVENTS',
      secretEnc: env.box.seal('whsec_current'),
      previousSecretEnc: env.box.seal('whsec_previous'),
      previousSecretExpiresAt: now,
      createdAt: now,
      updatedAt: now,
    });
    for (const values of (await storedValues()).values()) for (const v of values) expect(v.startsWith('v1.')).toBe(true);

    const run = await rotate(ring(['k1', k1], ['k0', env.secretKey]));
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout) as Summary;
    expect(summary.keyId).toBe('k1');
    // Found from the drizzle tables, the webhook endpoints' secrets included.
    expect(summary.columns.map((c) => c.column)).toEqual(sealedColumns().map((c) => `${c.table}.${c.column}`));
    expect(summary.columns.map((c) => c.column)).toEqual(
      expect.arrayContaining([
        'tenants.component_app_secret_enc',
        'tenants.token_enc',
        'tenants.encoding_aes_key_enc',
        'component_tickets.ticket_enc',
        'authorizers.refresh_token_enc',
        'webhook_endpoints.secret_enc',
        'webhook_endpoints.previous_secret_enc',
      ]),
    );
    expect(column(summary, 'authorizers.refresh_token_enc')).toMatchObject({ rows: 2, reencrypted: 2, current: 0, changedMeanwhile: 0, unreadable: 0 });
    expect(column(summary, 'webhook_endpoints.previous_secret_enc')).toMatchObject({ rows: 1, reencrypted: 1 });
    expect(summary.totals).toEqual({ reencrypted: 8, current: 0, changedMeanwhile: 0, unreadable: 0 });
    expect(run.stderr).toContain('tenants.token_enc: 1/1 (100%)');
    for (const values of (await storedValues()).values()) for (const v of values) expect(v.startsWith('v2.k1.')).toBe(true);

    // The old key is no longer needed to read anything.
    const onlyK1 = boxOf(['k1', k1]);
    const store = new PgCredentialStore(env.database.db, onlyK1, systemClock);
    expect(await store.getComponent(tenant.id)).toEqual({ componentAppId: input.componentAppId, componentAppSecret: input.componentAppSecret });
    expect(await store.getTicket(tenant.id)).toBe('ticket@@@legacy');
    expect(await store.getAuthorizerRefreshToken(tenant.id, appIds[0] ?? '')).toBe(`refresh-${appIds[0]}`);
    expect(await new TenantsService(env.database.db, onlyK1, systemClock).crypto(tenant.id)).toMatchObject({
      token: input.token,
      encodingAesKey: input.encodingAesKey,
    });

    const again = await rotate(ring(['k1', k1], ['k0', env.secretKey]));
    expect(again.code).toBe(0);
    expect((JSON.parse(again.stdout) as Summary).totals).toEqual({ reencrypted: 0, current: 8, changedMeanwhile: 0, unreadable: 0 });
  }, 60_000);

  it('never overwrites a secret the gateway writes while it runs with the stale value re-encrypted', async () => {
    const { tenant } = await createTenantWithMerchants(env.database.db, boxOf(['k1', k1]));
    const gatewayBox = boxOf(['k2', k2], ['k1', k1]);
    const pool = env.database.sql;
    if (!pool) throw new Error('the test database is postgres-js');
    let run: ReturnType<typeof rotate> | undefined;
    // The gateway's write holds the row until the rotation's compare-and-set waits on it; then it commits.
    await pool.begin(async (tx) => {
      await tx`update tenants set component_app_secret_enc = ${gatewayBox.seal('secret-written-meanwhile')} where id = ${tenant.id}`;
      run = rotate(ring(['k2', k2], ['k1', k1]), '--batch-size', '1');
      await expectEventually(
        async () => {
          const [row] =
            await pool`select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'wxlive' and wait_event_type = 'Lock'`;
          return row?.n === 1;
        },
        { timeoutMs: 20_000 },
      );
    });
    const result = await run;
    expect(result?.code).toBe(0);
    const summary = JSON.parse(result?.stdout ?? '') as Summary;
    expect(column(summary, 'tenants.component_app_secret_enc')).toMatchObject({ changedMeanwhile: 1, unreadable: 0 });
    expect(summary.totals.unreadable).toBe(0);
    const creds = await new PgCredentialStore(env.database.db, boxOf(['k2', k2]), systemClock).getComponent(tenant.id);
    expect(creds.componentAppSecret).toBe('secret-written-meanwhile');
  }, 60_000);

  it('fails loudly on rows sealed under a key removed from SECRET_KEYS, naming the key and what to do, and leaves them as stored', async () => {
    const { tenant, input } = await createTenantWithMerchants(env.database.db, boxOf(['k1', k1]));
    const before = await storedValues();

    const run = await rotate(ring(['k2', k2]));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('wxlive: 3 secrets could not be opened and were left as stored:');
    expect(run.stderr).toMatch(/3 x secret sealed under key k1, which is not in SECRET_KEYS \(it holds k2\): put k1:<that key> back in SECRET_KEYS/);
    const summary = JSON.parse(run.stdout) as Summary;
    expect(summary.totals.unreadable).toBe(3);
    expect(summary.unreadable).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ column: 'tenants.token_enc', id: tenant.id, keyId: 'k1' }),
        expect.objectContaining({ column: 'tenants.component_app_secret_enc', id: tenant.id, keyId: 'k1' }),
      ]),
    );
    expect(await storedValues()).toEqual(before);

    // The gateway reading that tenant under the same keys fails the same way, never with an empty secret.
    const read = new TenantsService(env.database.db, boxOf(['k2', k2]), systemClock).crypto(tenant.id);
    await expect(read).rejects.toBeInstanceOf(SecretBoxError);
    await expect(new TenantsService(env.database.db, boxOf(['k2', k2]), systemClock).crypto(tenant.id)).rejects.toThrow(/sealed under key k1/);

    // With k1 back (after the sealing key) the same command finishes the job.
    const fixed = await rotate(ring(['k2', k2], ['k1', k1]));
    expect(fixed.code).toBe(0);
    expect((JSON.parse(fixed.stdout) as Summary).totals).toMatchObject({ reencrypted: 3, unreadable: 0 });
    expect(await new TenantsService(env.database.db, boxOf(['k2', k2]), systemClock).crypto(tenant.id)).toMatchObject({ token: input.token });
  }, 60_000);

  it('stops on a malformed SECRET_KEYS with one line naming it', async () => {
    const run = await rotate('k2:c2hvcnQ=');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^wxlive: SECRET_KEYS: key k2 is not 32 bytes[^\n]*\n$/);
  }, 30_000);
});
