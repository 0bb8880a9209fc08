/**
 * The worker role as its own process (`npm run worker`): the apply worker and the reconciler,
 * wired by the same composition root as everything else. SIGTERM drains running jobs.
 * Postgres is required: PGlite (the demo's embedded database) is single-process.
 */
import 'reflect-metadata';
import { createApp } from '../app/create-app.js';
import { ConfigError, loadConfig } from '../config/config.js';
import { createLogger } from '../lib/logger.js';
import { startTracingSdk } from '../lib/tracing-sdk.js';

async function main(): Promise<void> {
  const config = { ...loadConfig(process.env), role: 'worker' as const };
  if (!config.databaseUrl) throw new ConfigError('DATABASE_URL: the worker process needs Postgres (PGlite cannot be shared between processes)');
  const logger = createLogger({ level: config.logLevel, name: 'wxlive-worker' });
  const tracing = config.otelEndpoint ? startTracingSdk({ endpoint: config.otelEndpoint, serviceName: 'wxlive-gateway', role: 'worker' }) : undefined;
  const app = await createApp(config, { logger });
  logger.info({ pid: process.pid, concurrency: config.workerConcurrency, metricsUrl: app.metricsUrl }, 'apply worker started');
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'draining running jobs');
      app.stop().then(
        async () => {
          // The spans still batched go out before the process ends.
          await tracing?.shutdown().catch(() => undefined);
          process.exit(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
