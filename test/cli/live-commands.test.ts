import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizers } from '../../src/db/tables.js';
import { SimulatorAdmin } from '../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../src/wechat/simulator/server.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { createAuthorizer, createTenant, type TenantFixture } from '../wechat/support/fixtures.js';
import { runWxlive } from './cli-process.js';

let env: TestEnv;
let sim: RunningSimulator;
let cliEnv: Record<string, string>;
let tenant: TenantFixture;
let appId: string;
let cover: string;

beforeAll(async () => {
  env = await createTestEnv();
  sim = await startSimulator({ port: 0 });
  const admin = new SimulatorAdmin(sim.url);
  tenant = await createTenant(admin, env);
  appId = await createAuthorizer(admin, env, tenant);
  await env.database.db.update(authorizers).set({ liveOpen: true }).where(eq(authorizers.appId, appId));
  cover = join(tmpdir(), `wxlive-cover-${process.pid}.png`);
  await writeFile(cover, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
  cliEnv = {
    DATABASE_URL: env.databaseUrl,
    REDIS_URL: env.redisUrl,
    REDIS_PREFIX: env.redisPrefix,
    SECRET_KEY: env.secretKey.toString('base64'),
    WECHAT_API_BASE: sim.url,
  };
});

afterAll(async () => {
  await sim?.stop();
  await env?.cleanup();
});

/** `wxlive room create` for the test merchant, two hours ahead, with the given anchor. */
function roomCreate(anchorWechat: string): string[] {
  const start = new Date(Math.ceil((Date.now() + 7200_000) / 1000) * 1000);
  return [
    'room',
    'create',
    '--tenant',
    tenant.tenantId,
    '--app-id',
    appId,
    '--name',
    '冬季新品直播',
    '--cover',
    cover,
    '--start',
    start.toISOString(),
    '--end',
    new Date(start.getTime() + 3600_000).toISOString(),
    '--anchor-name',
    '主播小王',
    '--anchor-wechat',
    anchorWechat,
    '--close-kf',
  ];
}

describe('wxlive room and goods', () => {
  it('creates a room with its image uploaded from a file, and lists it (--json and a table)', async () => {
    const created = await runWxlive([...roomCreate('anchor_wang'), '--json'], cliEnv);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const { room } = JSON.parse(created.stdout) as { room: { roomId: number; status: string } };
    expect(room.status).toBe('NOT_STARTED');

    const listed = await runWxlive(['room', 'list', '--tenant', tenant.tenantId, '--app-id', appId, '--refresh', '--json'], cliEnv);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { rooms: { roomId: number; coverImg: string }[] }).rooms).toMatchObject([{ roomId: room.roomId }]);
    const table = await runWxlive(['room', 'list', '--tenant', tenant.tenantId, '--app-id', appId], cliEnv);
    expect(table.stdout).toMatch(/ROOM\s+STATUS/);
    expect(table.stdout).toContain(String(room.roomId));

    const goods = await runWxlive(['goods', 'list', '--tenant', tenant.tenantId, '--app-id', appId, '--refresh', '--json'], cliEnv);
    expect(goods.code).toBe(0);
    expect(JSON.parse(goods.stdout)).toEqual({ goods: [] });
  });

  it("says in one line what WeChat refused, with its errcode and the anchor's verification code", async () => {
    const run = await runWxlive(roomCreate('unverified_wang'), cliEnv);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('WeChat answered 300036');
    expect(run.stderr).toMatch(/verified their real name.*Verification code: https?:\/\//);
  });
});
