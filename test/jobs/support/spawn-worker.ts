import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

export interface WorkerProcessEnv {
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  secretKey: Buffer;
  wechatApiBase: string;
  concurrency?: number;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** Extra node flags, e.g. ['--cpu-prof'] to profile the worker. */
  nodeArgs?: string[];
}

/**
 * `src/jobs/worker-main.ts` as its own process, resolved once it logs that it started. Run as
 * `node --import tsx` rather than `npx tsx`: npx and tsx's CLI each add a parent process, and a
 * SIGKILL sent to a parent would leave the real worker running.
 */
export async function spawnWorkerProcess(e: WorkerProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...(e.nodeArgs ?? []), '--import', 'tsx', 'src/jobs/worker-main.ts'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: e.databaseUrl,
      REDIS_URL: e.redisUrl,
      REDIS_PREFIX: e.redisPrefix,
      SECRET_KEY: e.secretKey.toString('base64'),
      WECHAT_API_BASE: e.wechatApiBase,
      LOG_LEVEL: 'info',
      WORKER_CONCURRENCY: String(e.concurrency ?? 2),
      // Several workers run at once: each takes a free port for its health and metrics.
      METRICS_PORT: '0',
      ...(e.lockDurationMs === undefined ? {} : { JOBS_LOCK_DURATION_MS: String(e.lockDurationMs) }),
      ...(e.stalledIntervalMs === undefined ? {} : { JOBS_STALLED_INTERVAL_MS: String(e.stalledIntervalMs) }),
    },
  });
  let output = '';
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('apply worker started')) {
        child.stdout?.off('data', onData);
        // Keep draining stdout so a chatty worker never blocks on a full pipe.
        child.stdout?.resume();
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before starting:\n${output}`)));
  });
  return child;
}
