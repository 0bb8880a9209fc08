import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { migrationsFolder } from '../../src/db/client.js';

export const PG_BASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function databaseUrl(name: string): string {
  const url = new URL(PG_BASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The template's name changes with the migrations, so a changed schema never reuses a stale one. */
export function templateName(): string {
  const hash = createHash('sha256');
  for (const f of readdirSync(migrationsFolder)
    .filter((f) => f.endsWith('.sql'))
    .sort()) {
    hash.update(f).update(readFileSync(join(migrationsFolder, f)));
  }
  return `wxlive_tpl_${hash.digest('hex').slice(0, 12)}`;
}

export function adminSql() {
  return postgres(PG_BASE_URL, { max: 1, onnotice: () => {} });
}
