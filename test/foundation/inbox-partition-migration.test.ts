import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { migrationsFolder } from '../../src/db/client.js';
import { adminSql, databaseUrl } from '../support/pg-admin.js';

// Migration 0012 rebuilds webhook_inbox and webhook_deliveries as partitioned tables: what
// an existing installation stored before them (pushes, and the relay deliveries that point at them)
// must all be there after.
const name = `wxlive_t_mig12_${randomBytes(4).toString('hex')}`;
const folders: string[] = [];
let sql: postgres.Sql | undefined;

afterAll(async () => {
  await sql?.end({ timeout: 5 });
  const admin = adminSql();
  try {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
  } finally {
    await admin.end();
  }
  for (const f of folders) rmSync(f, { recursive: true, force: true });
});

/** The migrations folder as it was before migration `idx` (its journal cut there). */
function migrationsBefore(idx: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'wxlive-migrations-'));
  folders.push(dir);
  cpSync(migrationsFolder, dir, { recursive: true });
  const journalPath = join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { idx: number; tag: string }[] };
  for (const e of journal.entries.filter((e) => e.idx >= idx)) rmSync(join(dir, `${e.tag}.sql`));
  journal.entries = journal.entries.filter((e) => e.idx < idx);
  writeFileSync(journalPath, JSON.stringify(journal));
  return dir;
}

describe('migration 0012 (the inbox and the delivery log partitioned by day)', () => {
  it('keeps every stored push, its de-duplication and its relay deliveries', async () => {
    const admin = adminSql();
    try {
      await admin.unsafe(`create database "${name}"`);
    } finally {
      await admin.end();
    }
    sql = postgres(databaseUrl(name), { max: 1, onnotice: () => {} });
    const db = drizzle(sql);
    await migrate(db, { migrationsFolder: migrationsBefore(12) });

    const [tenant] = await sql`insert into tenants (name, component_app_id, component_app_secret_enc, token_enc, encoding_aes_key_enc)
      values ('before', 'wxcomponent0012', 's', 't', 'k') returning id`;
    const [endpoint] = await sql`insert into webhook_endpoints (tenant_id, url, kind, secret_enc, created_at, updated_at)
      values (${tenant?.id}, 'https://erp.example.com/wechat', 'RELAY', 's', now(), now()) returning id`;
    const pushes = await sql`insert into webhook_inbox (tenant_id, kind, event_type, dedup_key, payload, received_at, processed_at)
      values (${tenant?.id}, 'auth', 'component_verify_ticket', 'k1', '<xml>1</xml>', '2026-11-20T10:00:00Z', '2026-11-20T10:00:01Z'),
             (${tenant?.id}, 'event', 'text', 'k2', null, now(), null)
      returning id::int as id`;
    await sql`insert into webhook_deliveries (tenant_id, endpoint_id, event_type, source, inbox_id, status, created_at)
      values (${tenant?.id}, ${endpoint?.id}, 'component_verify_ticket', ${`inbox:${pushes[0]?.id}`}, ${pushes[0]?.id}, 'DELIVERED', now())`;

    await migrate(db, { migrationsFolder });

    const rows = await sql`select id::int as id, pushed_on::text as pushed_on, dedup_key, payload from webhook_inbox order by id`;
    expect(rows.map((r) => ({ ...r }))).toEqual([
      { id: pushes[0]?.id, pushed_on: '2026-11-20', dedup_key: 'k1', payload: '<xml>1</xml>' },
      { id: pushes[1]?.id, pushed_on: new Date().toISOString().slice(0, 10), dedup_key: 'k2', payload: null },
    ]);
    // The old day got a partition of its own; the delivery follows its push (the foreign key's new columns).
    const parts = await sql`select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'webhook_inbox'::regclass`;
    expect(parts.map((p) => p.relname)).toEqual(expect.arrayContaining(['webhook_inbox_p20261120', 'webhook_inbox_default']));
    const [delivery] =
      await sql`select inbox_id::int as inbox_id, inbox_pushed_on::text as inbox_pushed_on, created_on::text as created_on from webhook_deliveries`;
    // It partitions the delivery log by the day it was made.
    expect({ ...delivery }).toEqual({ inbox_id: pushes[0]?.id, inbox_pushed_on: '2026-11-20', created_on: new Date().toISOString().slice(0, 10) });
    const logParts = await sql`select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'webhook_deliveries'::regclass`;
    expect(logParts.map((p) => p.relname)).toContain('webhook_deliveries_default');
    // Ids go on from where they were; the de-duplication key still holds within a day.
    const [next] = await sql`insert into webhook_inbox (tenant_id, pushed_on, kind, event_type, dedup_key, payload)
      values (${tenant?.id}, '2026-11-20', 'auth', 'component_verify_ticket', 'k3', '<xml/>') returning id::int as id`;
    expect(next?.id).toBeGreaterThan(pushes[1]?.id);
    const duplicate = await sql`insert into webhook_inbox (tenant_id, pushed_on, kind, event_type, dedup_key, payload)
      values (${tenant?.id}, '2026-11-20', 'auth', 'component_verify_ticket', 'k1', '<xml/>') on conflict (tenant_id, dedup_key, pushed_on) do nothing returning id`;
    expect(duplicate).toHaveLength(0);
    // Deleting a push still takes its deliveries with it.
    await sql`delete from webhook_inbox where id = ${pushes[0]?.id}`;
    expect(await sql`select 1 from webhook_deliveries`).toHaveLength(0);
  });
});
