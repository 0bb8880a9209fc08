import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { generate } from '@graphql-codegen/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import config from '../../examples/console/codegen.js';
import { type GraphqlApp, startGraphqlApp } from '../graphql/support/graphql-harness.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';

const root = new URL('../..', import.meta.url).pathname;
const example = join(root, 'examples/console');

describe('examples/console: typed documents from schema.graphql', () => {
  it('the committed gql/ is what codegen makes from schema.graphql today, and the example typechecks against it', async () => {
    // Codegen fails here when an operation of the example no longer validates against the schema.
    const outputs = await generate(config, false);
    expect(outputs.length).toBeGreaterThan(0);
    for (const output of outputs) {
      const committed = await readFile(output.filename, 'utf8').catch(() => '(missing)');
      expect(committed, `${relative(root, output.filename)} is stale: run npm run codegen and commit it`).toBe(output.content);
    }
    // A field the example reads that changed type or went away fails here.
    const tsc = join(root, 'node_modules/.bin/tsc');
    await expect(promisify(execFile)(tsc, ['--noEmit', '-p', example], { cwd: root })).resolves.toBeDefined();
  });
});

describe('examples/console/main.ts against a running gateway', () => {
  let env: TestEnv;
  let app: GraphqlApp;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    env = await createTestEnv();
    app = await startGraphqlApp(env);
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGTERM');
    await app?.close();
    await env?.cleanup();
  });

  it('applies for a merchant, pages through the applications and follows the new one over graphql-ws until it is final', async () => {
    const { apiKey, appIds } = await createTenantWithMerchants(env.database.db, env.box, 3);
    const [first, second, mine] = appIds as [string, string, string];
    for (const appId of [first, second]) {
      const res = await app.request<{ applyLive: { userErrors: unknown[] } }>(
        'mutation($a: String!) { applyLive(input: { appId: $a }) { userErrors { code } } }',
        { a: appId },
        apiKey.key,
      );
      expect(res.body.data?.applyLive.userErrors).toEqual([]);
    }

    const listeners = app.subscriber.listenerCount;
    child = spawn(process.execPath, ['--import', 'tsx', join(example, 'main.ts')], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', WXLIVE_URL: app.url, WXLIVE_API_KEY: apiKey.key, WXLIVE_APP_ID: mine, WXLIVE_PAGE_SIZE: '2' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child?.once('exit', resolve));

    // Once the example's subscription is listening on the server, a change of its application reaches it.
    const id = await expectEventually(
      () => {
        if (child?.exitCode !== null) throw new Error(`the example exited: ${err}`);
        const match = /^waiting for changes of (\S+)/m.exec(out);
        if (!match) throw new Error(`not subscribed yet: ${out}`);
        expect(app.subscriber.listenerCount).toBeGreaterThan(listeners);
        return match[1] as string;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const cancelled = await app.request<{ cancelLiveApplication: { userErrors: unknown[] } }>(
      'mutation($id: ID!) { cancelLiveApplication(id: $id) { userErrors { code } } }',
      { id },
      apiKey.key,
    );
    expect(cancelled.body.data?.cancelLiveApplication.userErrors).toEqual([]);

    expect(await exited, err).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe(`applied: ${id} ${mine} QUEUED`);
    // Three applications, two a page: two pages, each application once.
    expect(lines[1]).toBe('applications: 3');
    const paged = lines.filter((l) => l.startsWith('page '));
    expect(paged.map((l) => l.slice(0, 7))).toEqual(['page 1:', 'page 1:', 'page 2:']);
    expect(paged.map((l) => l.split(' ')[3]).sort()).toEqual([...appIds].sort());
    expect(paged.filter((l) => l.endsWith(`: ${id} ${mine} QUEUED`))).toHaveLength(1);
    expect(lines.at(-1)).toMatch(new RegExp(`^update: ${id} CANCELLED CANCELLED_BY_TENANT cursor \\d+-\\d+$`));
  });
});
