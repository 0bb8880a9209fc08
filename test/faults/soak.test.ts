import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('the soak', () => {
  it('runs a minute of load on two API instances and two workers, and its ledger balances', async () => {
    // node --import tsx, not npm run: a timeout's SIGKILL then reaches the soak itself, which cleans up on exit.
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/soak.ts', '--minutes', '1'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'info' },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGINT'), 140_000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timer);
    // The summary is the failure message: applications, pushes, memory and every problem found.
    expect({ code, output: output.split('\n').filter((l) => !l.startsWith('[soak')) }).toMatchObject({ code: 0 });
    expect(output).toMatch(/result: ledger balanced/);
  }, 150_000);
});
