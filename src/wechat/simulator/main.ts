import { startSimulator } from './server.js';

// Runnable on its own: `npx tsx src/wechat/simulator/main.ts` (SIM_PORT, default 4100; SIM_HOST).
const port = Number(process.env.SIM_PORT ?? 4100);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`SIM_PORT: expected a port number, got ${process.env.SIM_PORT}\n`);
  process.exit(1);
}
const host = process.env.SIM_HOST ?? '127.0.0.1';
const simulator = await startSimulator({ port, host });
process.stdout.write(`WeChat simulator listening on ${simulator.url} (admin API under /__sim)\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void simulator.stop().then(() => process.exit(0));
  });
}
