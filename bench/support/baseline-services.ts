import { randomBytes } from 'node:crypto';
import { connectPostgres } from '../../src/db/client.js';
import { silentLogger } from '../../src/lib/logger.js';
import { SecretBox } from '../../src/lib/secret-box.js';
import { ApplicationsService } from '../../src/services/applications.service.js';
import { AuthorizersService } from '../../src/services/authorizers.service.js';
import type { ApplicationQueue, ChangePublisher } from '../../src/services/ports.js';
import { TenantsService } from '../../src/services/tenants.service.js';
import { appRole } from './processes.js';

/**
 * The gateway's read-side services for a query baseline server, over DATABASE_URL as the gateway
 * connects (DATABASE_APP_ROLE: the same row-level security, so the comparison is the serving
 * path). Queue and publisher are never used by reads and throw if they are.
 */
export function baselineReadServices() {
  const database = connectPostgres(process.env.DATABASE_URL as string, { max: Number(process.env.DB_POOL_SIZE ?? 10), role: appRole() });
  const box = new SecretBox(randomBytes(32));
  const unused = async (): Promise<never> => {
    throw new Error('not used by this baseline');
  };
  const queue: ApplicationQueue = { enqueue: unused, remove: unused, scheduleExpiry: unused };
  const publisher: ChangePublisher = { publish: unused };
  const tenants = new TenantsService(database.db, box);
  const applications = new ApplicationsService({
    db: database.db,
    authorizers: new AuthorizersService(database.db, box),
    queue,
    publisher,
    logger: silentLogger,
  });
  return { database, tenants, applications };
}
