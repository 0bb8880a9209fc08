import { connectPostgres } from '../../src/db/client.js';
import { adminSql, databaseUrl, templateName } from './pg-admin.js';

/**
 * Builds, once per run, a template database with every migration applied; each test file then
 * clones it (CREATE DATABASE ... TEMPLATE), which takes a fraction of a second.
 */
export default async function setup(): Promise<void> {
  const name = templateName();
  const admin = adminSql();
  try {
    await admin`select pg_advisory_lock(774411)`;
    const [exists] = await admin`select 1 from pg_database where datname = ${name}`;
    if (!exists) {
      await admin.unsafe(`create database "${name}_building"`).catch(async () => {
        await admin.unsafe(`drop database if exists "${name}_building"`);
        await admin.unsafe(`create database "${name}_building"`);
      });
      const db = connectPostgres(databaseUrl(`${name}_building`), { max: 1 });
      await db.migrate();
      await db.close();
      await admin.unsafe(`alter database "${name}_building" rename to "${name}"`);
    }
    // Databases left by a killed run of an earlier day.
    const stale = await admin`select datname from pg_database where datname like 'wxlive_t_%' and datname < ${`wxlive_t_${Date.now() - 86_400_000}`}`;
    for (const s of stale) await admin.unsafe(`drop database if exists "${s.datname}" with (force)`);
  } finally {
    await admin`select pg_advisory_unlock(774411)`.catch(() => {});
    await admin.end();
  }
}
