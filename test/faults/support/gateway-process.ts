import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

export type GatewayRole = 'api' | 'worker';

const ENTRY: Record<GatewayRole, { file: string; ready: string }> = {
  api: { file: 'src/main.ts', ready: 'gateway listening' },
  worker: { file: 'src/jobs/worker-main.ts', ready: 'apply worker started' },
};

/** A gateway process (`ROLE=api` through src/main.ts, or src/jobs/worker-main.ts), started and ready. */
export interface GatewayProcess {
  role: GatewayRole;
  child: ChildProcess;
  pid: number;
  /** `http://127.0.0.1:<port>` of an API process. */
  url: string | undefined;
  /** Everything it wrote to stderr, and its log lines at warn and above. */
  readonly problems: string[];
  /** Resident set size now, in KiB (VmRSS of /proc/<pid>/status). */
  rssKiB(): number;
  /** SIGTERM (drains) and waits for the exit; SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
  kill(): Promise<void>;
}

/**
 * Spawns `node --import tsx <entry>` directly (not npx or the tsx CLI, which add parent
 * processes): a signal sent to `pid` reaches the gateway itself.
 */
export async function spawnGateway(role: GatewayRole, env: Record<string, string>): Promise<GatewayProcess> {
  const entry = ENTRY[role];
  const child = spawn(process.execPath, ['--import', 'tsx', entry.file], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    // METRICS_PORT 0: several workers run at once, each on a free port for its health and metrics.
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', METRICS_PORT: '0', ...env, ...(role === 'api' ? { ROLE: 'api' } : {}) },
  });
  const problems: string[] = [];
  let url: string | undefined;
  let buffered = '';
  let output = '';
  child.stderr?.on('data', (d: Buffer) => {
    problems.push(d.toString());
    output += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    let ready = false;
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      let newline = buffered.indexOf('\n');
      while (newline !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
        if (!ready) output += `${line}\n`;
        let entryLog: { level?: number; msg?: string; url?: string } = {};
        try {
          entryLog = JSON.parse(line) as typeof entryLog;
        } catch {
          continue;
        }
        if ((entryLog.level ?? 0) >= 40) problems.push(line);
        if (!ready && entryLog.msg === entry.ready) {
          ready = true;
          url = entryLog.url;
          resolve();
        }
      }
    });
    child.once('exit', (code, signal) => {
      if (!ready) reject(new Error(`${role} process exited (${code ?? signal}) before it was ready:\n${output}`));
    });
    setTimeout(() => {
      if (ready) return;
      child.kill('SIGKILL');
      reject(new Error(`${role} process not ready within 90 s:\n${output}`));
    }, 90_000).unref();
  });
  const pid = child.pid as number;
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return {
    role,
    child,
    pid,
    url,
    problems,
    rssKiB: () => readRssKiB(pid),
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const [code] = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** VmRSS of a process, in KiB (0 when it is gone). */
export function readRssKiB(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}
