import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const run = promisify(execFile);

/** Why the Cluster tests cannot run here, or undefined when they can. */
export function clusterUnavailableReason(): string | undefined {
  for (const bin of ['redis-server', 'redis-cli']) {
    if (spawnSync(bin, ['--version']).status !== 0) return `${bin} is not on PATH (apt-get install redis-server, brew install redis)`;
  }
  return undefined;
}

export interface LocalCluster {
  ports: number[];
  /** `REDIS_CLUSTER_NODES` for the gateway. */
  nodesEnv: string;
  /** Kills the nodes and removes their directory. */
  stop(): Promise<void>;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function freeNodePort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 35_000);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await canListen(port)) && (await canListen(port + 10_000))) return port;
  }
  throw new Error('no free port pair for a Redis Cluster node');
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function ask(port: number, ...command: [string, ...string[]]): Promise<unknown> {
  const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call(...command);
  } finally {
    client.disconnect();
  }
}

/**
 * Three masters, no replicas, in memory, on free ports of 127.0.0.1: `redis-server` per node,
 * then `redis-cli --cluster create`, then every node reporting `cluster_state:ok`.
 */
export async function startLocalCluster(size = 3): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'wxlive-cluster-'));
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const taken = new Set<number>();
    for (let i = 0; i < size; i++) {
      const port = await freeNodePort(taken);
      taken.add(port).add(port + 10_000);
      ports.push(port);
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`)];
      args.push('--cluster-node-timeout', '5000', '--save', '', '--appendonly', 'no', '--dir', dir);
      children.push(spawn('redis-server', args, { stdio: 'ignore' }));
    }
    for (const port of ports) await waitFor(`redis-server on ${port}`, async () => (await ask(port, 'PING')) === 'PONG', 10_000);
    const nodes = ports.map((p) => `127.0.0.1:${p}`);
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 20_000 });
    for (const port of ports) {
      await waitFor(`cluster_state:ok on ${port}`, async () => String(await ask(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'), 20_000);
    }
    return { ports, nodesEnv: nodes.join(','), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
