/** `npm start`: the gateway (ROLE=all by default; ROLE=api and ROLE=worker split it). */
import 'reflect-metadata';
import { createApp } from './app/create-app.js';
import { ConfigError, loadConfig } from './config/config.js';
import { startTracingSdk } from './lib/tracing-sdk.js';

try {
  const config = loadConfig();
  // Before createApp, so the first requests and jobs are traced too.
  const tracing = config.otelEndpoint ? startTracingSdk({ endpoint: config.otelEndpoint, serviceName: 'wxlive-gateway', role: config.role }) : undefined;
  const app = await createApp(config);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.logger.info({ signal }, 'draining: finishing requests and running jobs');
    app.stop().then(
      async () => {
        await tracing?.shutdown().catch(() => undefined);
        process.exit(0);
      },
      (err: unknown) => {
        app.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`wxlive: configuration error: ${err.message}`);
    process.exit(1);
  }
  throw err;
}
