import { randomBytes } from 'node:crypto';
import { connectPostgres } from '../../src/db/client.js';
import { systemClock } from '../../src/lib/clock.js';
import { SecretBox } from '../../src/lib/secret-box.js';
import { LiveApplicationQueries } from '../../src/services/live-application/index.js';
import { TenantsService } from '../../src/services/tenants.service.js';
import { connectBare, scopesOff } from './bare-database.js';
import { appRole } from './processes.js';

/**
 * The gateway's read-side services for a query baseline server, over DATABASE_URL: as the
 * gateway connects (DATABASE_APP_ROLE: the same row-level security and scopes) by default, or
 * bare with BENCH_SCOPES=off (the same SQL, no scopes, no row-level security).
 */
export function baselineReadServices() {
  const max = Number(process.env.DB_POOL_SIZE ?? 10);
  const url = process.env.DATABASE_URL as string;
  const database = scopesOff() ? connectBare(url, max) : connectPostgres(url, { max, role: appRole() });
  const box = new SecretBox(randomBytes(32));
  const tenants = new TenantsService(database.db, box, systemClock);
  const applications = new LiveApplicationQueries({ db: database.db, clock: systemClock });
  return { database, tenants, applications };
}
