import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './tcp-proxy.js';

/**
 * A redis-server of a test's own, on a free port: the machine's Redis on 6379 is shared by every
 * test file running in parallel and must never be restarted or flushed.
 */
export class RedisProcess {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async start(): Promise<RedisProcess> {
    const redis = new RedisProcess(await freePort(), mkdtempSync(join(tmpdir(), 'wxlive-fault-redis-')));
    await redis.launch();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** A restart that keeps the data (SHUTDOWN SAVE, then the same dump is loaded), as a graceful restart or failover does. */
  async restart(options: { downMs?: number } = {}): Promise<void> {
    const child = this.child;
    const admin = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await admin.connect();
      await admin.call('SHUTDOWN', 'SAVE').catch(() => {});
    } finally {
      admin.disconnect();
    }
    if (child && child.exitCode === null) await once(child, 'exit');
    await sleep(options.downMs ?? 0);
    await this.launch();
  }

  /** Killed and started again with nothing: every key is gone, as after a crash without persistence. */
  async restartEmpty(options: { downMs?: number } = {}): Promise<void> {
    await this.kill();
    rmSync(join(this.dir, 'dump.rdb'), { force: true });
    await sleep(options.downMs ?? 0);
    await this.launch();
  }

  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        output += d.toString();
        if (output.includes('Ready to accept connections')) {
          child.stdout?.off('data', onData);
          child.stdout?.resume();
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.resume();
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`)));
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
