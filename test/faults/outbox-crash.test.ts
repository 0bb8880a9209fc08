import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { eq } from 'drizzle-orm';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { changeOutbox, liveApplications } from '../../src/db/tables.js';
import { replayChanges } from '../../src/events/change-feed.js';
import { systemContext } from '../../src/services/context.js';
import { collect } from '../graphql/support/graphql-harness.js';
import { type RealApp, startRealApp } from '../security/support/real-app.js';
import { randomAppId } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const UPDATED = `subscription($after: String) { liveApplicationUpdated(after: $after) { id status cursor } }`;

interface Updated {
  liveApplicationUpdated: { id: string; status: string; cursor: string };
}

let env: TestEnv;
let real: RealApp;
beforeAll(async () => {
  env = await createTestEnv();
  // The API role only: no worker takes the job, the test drives the transitions.
  real = await startRealApp(env, { ROLE: 'api', LOG_LEVEL: 'info' });
});
afterAll(async () => {
  await real?.stop();
  await env?.cleanup();
});

/** Runs test/faults/support/commit-then-die.ts; resolves with the signal that ended it. */
async function commitThenDie(vars: { TENANT_ID: string; ACTION: 'submit' | 'open'; TARGET: string; DIE: 'before-publish' | 'after-publish' }) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/faults/support/commit-then-die.ts'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: env.databaseUrl, REDIS_URL: env.redisUrl, REDIS_PREFIX: env.redisPrefix, ...vars },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return { code, signal, stderr };
}

function subscribe(key: string, after?: string) {
  const client = createClient({
    url: `${real.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
    retryAttempts: 0,
  });
  const sub = collect<Updated>(client, UPDATED, after === undefined ? {} : { after });
  return { ...sub, statuses: () => sub.results.map((r) => r.data?.liveApplicationUpdated.status) };
}

describe('a process killed between commit and publish', () => {
  it('still gets each committed change to subscribers, exactly once, through the outbox relay', async () => {
    const tenant = await real.tenant();
    const ctx = systemContext(tenant.id);
    const appId = randomAppId();
    await real.app.services.authorizers.import(ctx, [{ appId, refreshToken: 'rt', permissionSets: [52] }]);
    const live = subscribe(tenant.apiKey);
    await expectEventually(async () => expect((await real.fetch('/metrics')).text).toMatch(/^wxlive_graphql_subscriptions_open 1$/m));
    const applied = await real.app.services.lifecycle.apply(ctx, { appId });
    const id = applied.application?.id as string;
    await expectEventually(() => expect(live.statuses()).toEqual(['QUEUED']));
    const queuedCursor = live.results[0]?.data?.liveApplicationUpdated.cursor as string;

    // Killed after COMMIT, before anything reached Redis.
    const first = await commitThenDie({ TENANT_ID: tenant.id, ACTION: 'submit', TARGET: id, DIE: 'before-publish' });
    expect(first.signal, first.stderr).toBe('SIGKILL');
    const [row] = await env.database.db.select().from(liveApplications).where(eq(liveApplications.id, id));
    expect(row?.status).toBe('SUBMITTED');
    expect(await env.database.db.select().from(changeOutbox).where(eq(changeOutbox.tenantId, tenant.id))).toHaveLength(1);

    // The gateway's relay finds the orphaned row and publishes it.
    await expectEventually(() => expect(live.statuses()).toEqual(['QUEUED', 'SUBMITTED']), { timeoutMs: 20_000 });
    await expectEventually(async () => expect(await env.database.db.select().from(changeOutbox).where(eq(changeOutbox.tenantId, tenant.id))).toHaveLength(0));

    // Killed after publishing, before deleting its outbox row: the relay sends it again, the feed drops the repeat.
    const second = await commitThenDie({ TENANT_ID: tenant.id, ACTION: 'open', TARGET: appId, DIE: 'after-publish' });
    expect(second.signal, second.stderr).toBe('SIGKILL');
    await expectEventually(() => expect(live.statuses()).toEqual(['QUEUED', 'SUBMITTED', 'OPENED']));
    await expectEventually(async () => expect(await env.database.db.select().from(changeOutbox).where(eq(changeOutbox.tenantId, tenant.id))).toHaveLength(0), {
      timeoutMs: 20_000,
    });

    // A console resuming after the QUEUED change catches up without a repeat (changes waiting for a
    // slow subscriber coalesce per application, so it may see OPENED alone), and the stream holds
    // each committed change exactly once.
    const resumed = subscribe(tenant.apiKey, queuedCursor);
    await expectEventually(() => expect(resumed.statuses().at(-1)).toBe('OPENED'));
    expect(new Set(resumed.statuses()).size).toBe(resumed.statuses().length);
    const { changes: stream } = await replayChanges(env.redis, env.redisPrefix, tenant.id, '0-0');
    expect(stream.map((c) => c.application.status)).toEqual(['QUEUED', 'SUBMITTED', 'OPENED']);
    expect(live.statuses()).toEqual(['QUEUED', 'SUBMITTED', 'OPENED']);
    live.dispose();
    resumed.dispose();
  });
});
