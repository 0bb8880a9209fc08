/** The gateway as `npm start` runs it (configuration from the environment), for the benchmarks. */
import 'reflect-metadata';
import { createApp } from '../../src/app/create-app.js';
import { loadConfig } from '../../src/config/config.js';
import { announce, exitOnSignal } from '../support/processes.js';

const app = await createApp(loadConfig());
exitOnSignal(() => app.stop());
announce('READY', { url: app.url ?? null, role: app.config.role });
