/** `npm run db:migrate`: applies the committed migrations to DATABASE_URL (or the demo's PGlite folder). */
import { loadConfig } from '../config/config.js';
import { connectPglite, connectPostgres } from './client.js';

const config = loadConfig();
const database = config.databaseUrl ? connectPostgres(config.databaseUrl, { max: 1 }) : await connectPglite(config.dataDir);
try {
  await database.migrate();
  console.log(`migrations applied (${database.driver})`);
} finally {
  await database.close();
}
