/**
 * `npm run demo`: the whole gateway on one machine with nothing to configure — embedded Postgres
 * (PGlite) in DATA_DIR, Redis from REDIS_URL or a redis-server started for the demo, the WeChat
 * simulator, and a demo tenant whose three merchants open, get rejected, and stay SUBMITTED.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApp } from '../app/create-app.js';
import { ConfigError, loadConfig } from '../config/config.js';
import { SimulatorAdmin } from '../wechat/simulator/admin-client.js';
import { startSimulator } from '../wechat/simulator/server.js';
import { redisAnswers, startLocalRedis } from './local-redis.js';
import { seedDemo } from './seed-demo.js';

function demoSecretKey(dataDir: string): string {
  const file = join(dataDir, 'secret.key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32).toString('base64');
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

async function main(): Promise<void> {
  const env = { ...process.env };
  const base = loadConfig(env);
  if (!env.SECRET_KEY && !env.SECRET_KEYS) env.SECRET_KEY = demoSecretKey(base.dataDir);

  let localRedis: { url: string; stop(): void } | undefined;
  if (!(await redisAnswers(base.redisUrl))) {
    localRedis = await startLocalRedis();
    if (!localRedis) {
      console.error(
        `wxlive demo: no Redis answers at ${base.redisUrl} and no redis-server is on PATH. Install one (apt-get install redis-server, brew install redis) or set REDIS_URL.`,
      );
      process.exit(1);
    }
    env.REDIS_URL = localRedis.url;
  }

  const sim = await startSimulator({ port: Number(env.SIM_PORT ?? 0), host: '127.0.0.1' });
  env.WECHAT_API_BASE = sim.url;
  env.LOG_LEVEL ??= 'warn';
  const config = loadConfig(env);
  // GraphiQL opens with the demo's key already in its headers (the demo only: a simulator tenant).
  let demoKey: string | undefined;
  const app = await createApp(config, { migrate: true, graphiql: { defaultAuthorization: () => (demoKey ? `Bearer ${demoKey}` : undefined) } });
  const seeded = await seedDemo(app, new SimulatorAdmin(sim.url));
  demoKey = seeded.apiKey;

  const url = app.url as string;
  const query = '{ liveApplications(first: 10) { edges { node { appId status errcode errmsg submittedAt openedAt } } } }';
  const out = [
    '',
    'wxlive-gateway demo is running.',
    `  GraphQL + GraphiQL:  ${url}/graphql`,
    `  WeChat simulator:    ${sim.url}`,
    `  Database:            ${config.databaseUrl ? 'DATABASE_URL' : `embedded PGlite in ${config.dataDir}`}`,
    `  Redis:               ${config.redisUrl}${localRedis ? ' (started for the demo)' : ''}`,
    `  Tenant:              ${seeded.tenantId}`,
    `  API key:             ${seeded.apiKey}`,
    '',
    'Three merchants were applied for: one opens in a few seconds, one is rejected, one stays SUBMITTED.',
    `A fourth, ${seeded.liveAppId}, had live before the gateway: its room ${seeded.roomId} goes live after about 20 s and ends 40 s later (the sync loop sees each within 30 s)`,
    `(liveRooms(appId: "${seeded.liveAppId}") reads it; subscribe to liveRoomUpdated(appId: "${seeded.liveAppId}") in GraphiQL to watch it). Try:`,
    '',
    `  curl -s ${url}/graphql -H 'content-type: application/json' -H 'authorization: Bearer ${seeded.apiKey}' \\`,
    `    -d '${JSON.stringify({ query })}'`,
    '',
    'Press Ctrl+C to stop.',
    '',
  ];
  console.log(out.join('\n'));
  if (process.env.WXLIVE_DEMO_JSON === '1')
    console.log(
      JSON.stringify({
        demo: { url, apiKey: seeded.apiKey, tenantId: seeded.tenantId, simulatorUrl: sim.url, liveAppId: seeded.liveAppId, roomId: seeded.roomId },
      }),
    );

  const stop = async () => {
    console.log('stopping the demo...');
    await app.stop();
    await sim.stop();
    localRedis?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(`wxlive demo: configuration error: ${err.message}`);
  else console.error('wxlive demo failed:', err);
  process.exit(1);
});
