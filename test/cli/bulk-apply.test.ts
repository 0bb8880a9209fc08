import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices } from '../../src/app/services.js';
import { bulkApply } from '../../src/cli/bulk-apply.js';
import { merchantsFromCsv, parseCsv } from '../../src/cli/csv.js';
import { Progress } from '../../src/cli/progress.js';
import { ManualClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import type { ApplicationQueue, ChangePublisher } from '../../src/services/ports.js';
import { createTenantWithMerchants, randomAppId } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.cleanup();
});

function captured(isTTY: boolean) {
  const stream = Object.assign(new PassThrough(), { isTTY });
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString()));
  return { stream, text: () => chunks.join('') };
}

describe('CSV of merchants', () => {
  it('reads quoted fields, CRLF, a byte-order mark and appId-style headers, skipping blank lines', () => {
    expect(parseCsv('\ufeffa,"b,""c"""\r\n1,"x\ny"\n')).toEqual([
      ['a', 'b,"c"'],
      ['1', 'x\ny'],
    ]);
    expect(merchantsFromCsv('name,appId\nA, wx0123456789abcdef \n\n,\nB,wx0123456789abcdee\n')).toEqual([
      { line: 2, appId: 'wx0123456789abcdef', refreshToken: undefined },
      { line: 5, appId: 'wx0123456789abcdee', refreshToken: undefined },
    ]);
  });

  it('names the columns it found when app_id is missing', () => {
    expect(() => merchantsFromCsv('merchant,token\nx,y\n')).toThrow(/no app_id \(or appId\) column; found: "merchant", "token"/);
  });
});

describe('bulk apply', () => {
  it('imports, then applies in batches of at most 1,000, counting every row once', async () => {
    const { ctx } = await createTenantWithMerchants(env.database.db, env.box);
    const enqueued: string[] = [];
    const queue: ApplicationQueue = {
      enqueue: async (jobs) => void enqueued.push(...jobs.map((j) => j.applicationId)),
      remove: async () => true,
      scheduleExpiry: async () => {},
    };
    const publisher: ChangePublisher = { publish: async () => {} };
    const services = createServices({ db: env.database.db, box: env.box, clock: new ManualClock(), logger: silentLogger, queue, publisher });
    const importSizes: number[] = [];
    const applySizes: number[] = [];
    // The real services, with their batch sizes recorded.
    const spied = {
      authorizers: Object.assign(Object.create(services.authorizers), {
        import: (c: typeof ctx, items: Parameters<typeof services.authorizers.import>[1]) => {
          importSizes.push(items.length);
          return services.authorizers.import(c, items);
        },
      }) as typeof services.authorizers,
      lifecycle: Object.assign(Object.create(services.lifecycle), {
        applyBatch: (c: typeof ctx, ids: readonly string[]) => {
          applySizes.push(ids.length);
          return services.lifecycle.applyBatch(c, ids);
        },
      }) as typeof services.lifecycle,
    };
    const lines = [
      'app_id,refresh_token',
      ...Array.from({ length: 1500 }, () => `${randomAppId()},rt`),
      ...Array.from({ length: 500 }, () => `${randomAppId()},`),
      ...Array.from({ length: 50 }, (_, i) => `bad-${i},rt`),
    ];
    const rows = merchantsFromCsv(lines.join('\n'));
    const progress = captured(false);

    const summary = await bulkApply(spied, ctx, rows, new Progress(progress.stream, true));

    expect(importSizes).toEqual([1000, 500]);
    expect(applySizes).toEqual([1000, 1000, 50]);
    expect(summary.total).toBe(2050);
    expect(summary.imported).toBe(1500);
    expect(summary.byStatus).toEqual({ QUEUED: 1500 });
    expect(summary.errors.filter((e) => e.code === 'AUTHORIZER_NOT_FOUND')).toHaveLength(500);
    expect(summary.errors.filter((e) => e.code === 'INVALID_APP_ID').map((e) => e.line)).toEqual(Array.from({ length: 50 }, (_, i) => 2002 + i));
    expect(enqueued).toHaveLength(1500);
    expect(progress.text()).toBe(
      'importing: 1000/1500 (66%)\nimporting: 1500/1500 (100%)\napplying: 1000/2050 (48%)\napplying: 2000/2050 (97%)\napplying: 2050/2050 (100%)\n',
    );
  }, 60_000);

  it('redraws one line on a terminal', () => {
    const tty = captured(true);
    const progress = new Progress(tty.stream, true);
    progress.start('applying', 4);
    progress.update(2);
    progress.finish();
    expect(tty.text()).toBe(`\r\x1b[Kapplying [${'-'.repeat(30)}]   0% 0/4\r\x1b[Kapplying [${'#'.repeat(15)}${'-'.repeat(15)}]  50% 2/4\n`);
  });
});
