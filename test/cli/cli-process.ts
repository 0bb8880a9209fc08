import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const built = join(root, 'dist/src/cli/main.js');

/** True when dist was built after the last change to any file under src (a stale build would test old code). */
function distIsFresh(): boolean {
  if (!existsSync(built)) return false;
  const builtAt = statSync(built).mtimeMs;
  const src = join(root, 'src');
  return readdirSync(src, { recursive: true, encoding: 'utf8' }).every((f) => statSync(join(src, f)).mtimeMs <= builtAt);
}

/**
 * How to start the CLI: the built bin (`node dist/src/cli/main.js`) when it is fresh, else the
 * source through tsx (what `npx tsx src/cli/main.ts` runs). WXLIVE_CLI=dist|tsx forces one;
 * WXLIVE_CLI=<path to main.js> tests another build.
 */
export function cliInvocation(): { mode: string; args: string[] } {
  const forced = process.env.WXLIVE_CLI;
  if (forced?.endsWith('.js')) return { mode: forced, args: [forced] };
  if (forced === 'dist' || (forced !== 'tsx' && distIsFresh())) return { mode: 'dist', args: [built] };
  return { mode: 'tsx', args: [join(root, 'node_modules/tsx/dist/cli.mjs'), join(root, 'src/cli/main.ts')] };
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `wxlive <args>` as a child process with exactly the given environment (plus PATH and HOME). */
export function runWxlive(args: readonly string[], env: Record<string, string>, options: { cwd?: string } = {}): Promise<CliRun> {
  const { args: prefix } = cliInvocation();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...prefix, ...args], {
      cwd: options.cwd ?? root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
