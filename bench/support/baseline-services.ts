import { randomBytes } from 'node:crypto';
import { connectPostgres } from '../../src/db/client.js';
import { SecretBox } from '../../src/lib/secret-box.js';
import { LiveApplicationQueries } from '../../src/services/live-application/index.js';
import { TenantsService } from '../../src/services/tenants.service.js';
import { appRole } from './processes.js';
import { systemClock } from '../../src/lib/clock.js';

/**
 * The gateway's read-side services for a query baseline server, over DATABASE_URL as the gateway
 * connects (DATABASE_APP_ROLE: the same row-level security, so the comparison is the serving
 * path).
 */
export function baselineReadServices() {
  const database = connectPostgres(process.env.DATABASE_URL as string, { max: Number(process.env.DB_POOL_SIZE ?? 10), role: appRole() });
  const box = new SecretBox(randomBytes(32));
  const tenants = new TenantsService(database.db, box, systemClock);
  const applications = new LiveApplicationQueries({ db: database.db, clock: systemClock });
  return { database, tenants, applications };
}
