/**
 * The gateway as `npm start` runs it (configuration from the environment), for the benchmarks.
 * BENCH_SCOPES=off: the same gateway over a bare database handle (bench/support/bare-database.ts),
 * for the figure of what row-level security costs.
 */
import 'reflect-metadata';
import { createApp } from '../../src/app/create-app.js';
import { loadConfig } from '../../src/config/config.js';
import { connectBare, scopesOff } from '../support/bare-database.js';
import { announce, exitOnSignal } from '../support/processes.js';

const config = loadConfig();
const app = await createApp(config, scopesOff() ? { database: connectBare(config.databaseUrl as string, config.dbPoolSize) } : {});
exitOnSignal(() => app.stop());
announce('READY', { url: app.url ?? null, role: app.config.role });
