import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let hasTaskset: boolean | undefined;

/** Whether `taskset` can pin processes to cores here (Linux with util-linux, at least 2 cores). */
export function canPin(): boolean {
  if (hasTaskset === undefined) {
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
      hasTaskset = true;
    } catch {
      hasTaskset = false;
    }
  }
  return hasTaskset;
}

/** Pins this process (every thread) to `cores`, e.g. "1"; no-op without taskset. */
export function pinSelf(cores: string): boolean {
  if (!canPin()) return false;
  execFileSync('taskset', ['-a', '-p', '-c', cores, String(process.pid)], { stdio: 'ignore' });
  return true;
}

export interface BenchProcess {
  child: ChildProcess;
  pid: number;
  /** What the process printed after `BENCH_READY ` (JSON). */
  ready: Record<string, unknown>;
  /** CPU seconds (user + system) the process has used so far. */
  cpuSeconds(): number;
  /** Resident set size now, in bytes. */
  rssBytes(): number;
  /** Lines the process printed after `BENCH_EVENT ` (JSON), in order. */
  events: Record<string, unknown>[];
  /** Sends a line to the process's stdin. */
  send(message: unknown): void;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  env: Record<string, string>;
  /** taskset core list ("0"); unpinned when undefined or taskset is missing. */
  cores?: string | undefined;
  /** Give up waiting for BENCH_READY after this long. */
  startTimeoutMs?: number;
  nodeArgs?: string[];
  /** Called with each BENCH_EVENT as it arrives. */
  onEvent?: (event: Record<string, unknown>) => void;
  /** Also ready when a line matches this (for programs that do not print BENCH_READY, e.g. the worker). */
  readyLine?: RegExp;
}

const CLK_TCK = 100;

/**
 * Runs `node --import tsx <script>` (path from the repository root) as a child process, pinned
 * with taskset when asked (taskset execs node, so the pid is node's), and resolves once it prints
 * `BENCH_READY {json}`. The script may print `BENCH_EVENT {json}` lines later.
 */
export async function spawnBenchProcess(script: string, options: SpawnOptions): Promise<BenchProcess> {
  const nodeArgs = [...(options.nodeArgs ?? []), '--import', 'tsx', script];
  const pinned = options.cores !== undefined && canPin();
  const [command, args] = pinned ? ['taskset', ['-c', options.cores as string, process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  const child = spawn(command as string, args as string[], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...options.env },
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${script}`);
  const events: Record<string, unknown>[] = [];
  let output = '';
  let buffered = '';
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start in time:\n${output.slice(-4000)}`)), options.startTimeoutMs ?? 60_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
        if (line.startsWith('BENCH_READY ')) {
          clearTimeout(timer);
          resolve(JSON.parse(line.slice(12)) as Record<string, unknown>);
        } else if (options.readyLine?.test(line)) {
          clearTimeout(timer);
          resolve({});
        } else if (line.startsWith('BENCH_EVENT ')) {
          const event = JSON.parse(line.slice(12)) as Record<string, unknown>;
          events.push(event);
          options.onEvent?.(event);
        } else if (output.length < 100_000) {
          output += `${line}\n`;
        }
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      if (output.length < 100_000) output += chunk.toString();
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code ?? signal}) before it was ready:\n${output.slice(-4000)}`));
    });
  });
  let readyInfo: Record<string, unknown>;
  try {
    readyInfo = await ready;
  } catch (err) {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw err;
  }
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    child,
    pid,
    ready: readyInfo,
    events,
    cpuSeconds: () => {
      // Fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted after the command name.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
    },
    rssBytes: () => {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return Number(match?.[1] ?? 0) * 1024;
    },
    send: (message) => {
      child.stdin?.write(`${JSON.stringify(message)}\n`);
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** For scripts run by spawnBenchProcess: announce readiness (or an event) to the parent. */
export function announce(kind: 'READY' | 'EVENT', info: Record<string, unknown>): void {
  process.stdout.write(`BENCH_${kind} ${JSON.stringify(info)}\n`);
}

/** For scripts run by spawnBenchProcess: each JSON line the parent sends on stdin. */
export function onParentMessage(handler: (message: Record<string, unknown>) => void): void {
  let buffered = '';
  process.stdin.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
      if (line.trim() !== '') handler(JSON.parse(line) as Record<string, unknown>);
    }
  });
}

/** Exits on SIGTERM after `stop` (servers close their pools), or at once on a second signal. */
export function exitOnSignal(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = () => {
    if (stopping) process.exit(1);
    stopping = true;
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  // The parent holds our stdin: when it dies, so do we (no orphaned servers after a crash).
  process.stdin.on('end', handler);
  process.stdin.resume();
}

/** CPU seconds used so far by every process whose command is `name` (e.g. all Postgres backends). */
export function cpuSecondsOf(name: string): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      if (stat.slice(open + 1, close) !== name) continue;
      const fields = stat.slice(close + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process ended meanwhile.
    }
  }
  return ticks / CLK_TCK;
}

/** The role a baseline server connects as: the gateway's DATABASE_APP_ROLE (wxlive_app unless set; empty for none). */
export function appRole(): string | undefined {
  const role = process.env.DATABASE_APP_ROLE ?? 'wxlive_app';
  return role === '' ? undefined : role;
}
