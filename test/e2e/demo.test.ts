import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteKeys, expectEventually, REDIS_URL } from '../support/test-env.js';

const root = new URL('../..', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'wxlive-demo-'));
const prefix = `test-demo-${randomUUID().slice(0, 8)}`;
let child: ChildProcess | undefined;

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child?.once('exit', r));
  }
  const redis = new Redis(REDIS_URL);
  await deleteKeys(redis, prefix);
  await redis.quit();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm run demo', () => {
  it('starts on embedded Postgres with nothing configured and its three applications reach OPENED, REJECTED and SUBMITTED', async () => {
    // The same entry point as `npm run demo`, with no DATABASE_URL and no SECRET_KEY.
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      DATA_DIR: dataDir,
      REDIS_PREFIX: prefix,
      PORT: '0',
      WXLIVE_DEMO_JSON: '1',
    };
    child = spawn(process.execPath, ['--import', 'tsx', 'src/demo/main.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const demo = await expectEventually(
      () => {
        if (child?.exitCode !== null) throw new Error(`demo exited: ${err}`);
        const line = out.split('\n').find((l) => l.startsWith('{"demo"'));
        if (!line) throw new Error('demo not ready yet');
        return (JSON.parse(line) as { demo: { url: string; apiKey: string; liveAppId: string; roomId: number } }).demo;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    expect(out).toContain('curl -s');
    expect(out).toContain(`${demo.url}/graphql`);

    const statuses = await expectEventually(
      async () => {
        const res = await fetch(`${demo.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${demo.apiKey}` },
          body: JSON.stringify({ query: '{ liveApplications(first: 10) { edges { node { appId status } } } }' }),
        });
        const body = (await res.json()) as { data: { liveApplications: { edges: { node: { status: string } }[] } } };
        const s = body.data.liveApplications.edges.map((e) => e.node.status).sort();
        expect(s).toEqual(['OPENED', 'REJECTED', 'SUBMITTED']);
        return s;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(statuses).toHaveLength(3);

    // The merchant whose live opened before the gateway has its room, read from the mirror.
    const rooms = await fetch(`${demo.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${demo.apiKey}` },
      body: JSON.stringify({ query: `{ liveRooms(appId: "${demo.liveAppId}") { edges { node { roomId name status } } } }` }),
    });
    const listed = (await rooms.json()) as { data: { liveRooms: { edges: { node: { roomId: number; status: string } }[] } } };
    expect(listed.data.liveRooms.edges.map((e) => e.node.roomId)).toEqual([demo.roomId]);

    // The printed GraphiQL address opens with the demo's key already in the headers.
    const page = await fetch(`${demo.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await page.text()).toContain(`data-authorization="Bearer ${demo.apiKey}"`);
  }, 120_000);
});
