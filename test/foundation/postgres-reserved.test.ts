import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';

// postgres-js as patched (patches/postgres+3.4.9.patch): a reserved connection whose socket closed
// belongs to the pool again, which reconnects it for whoever waits. The handle its holder still
// has must not reach that new session, and its release must not hand the connection out twice.
let env: TestEnv;
let pool: postgres.Sql;
let admin: postgres.Sql;

beforeAll(async () => {
  env = await createTestEnv();
  pool = postgres(env.databaseUrl, { max: 1, onnotice: () => {} });
  admin = postgres(env.databaseUrl, { max: 1 });
});
afterAll(async () => {
  await pool?.end({ timeout: 1 });
  await admin?.end({ timeout: 1 });
  await env?.cleanup();
});

const pidOf = async (sql: postgres.Sql | postgres.ReservedSql | postgres.TransactionSql) => (await sql`select pg_backend_pid() as pid`)[0]?.pid as number;

describe('a reserved connection whose backend was terminated', () => {
  it("rejects its holder's later queries, and its release does not hand the reconnected connection to a second holder", async () => {
    const first = await pool.reserve();
    const firstPid = await pidOf(first);
    // The pool has one connection: the next holder waits for it.
    const nextHolder = pool.reserve();
    await admin`select pg_terminate_backend(${firstPid})`;
    // The pool reconnects the connection for the waiting holder, which opens a transaction on it.
    const second = await nextHolder;
    await second.unsafe(`begin; select set_config('wxlive.test_holder', 'second', true)`);

    // The first holder's handle still points at the connection: its query fails instead of
    // running in the second holder's transaction.
    await expect(first`select current_setting('wxlive.test_holder', true) as holder`).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });

    // Its release gives nothing back: the connection is the second holder's until it releases it.
    first.release();
    const poolQuery = pool`select current_setting('wxlive.test_holder', true) as holder`.then((rows) => rows[0]?.holder as string | null);
    expect((await second`select current_setting('wxlive.test_holder', true) as holder`)[0]?.holder).toBe('second');
    await second.unsafe('commit');
    second.release();
    // The pool's query ran after the second holder's transaction, not inside it.
    expect(await poolQuery).not.toBe('second');
  });

  it("fails the later queries of a transaction (begin) on it, instead of running them in the next holder's transaction", async () => {
    let later: Promise<unknown> | undefined;
    let second: postgres.ReservedSql | undefined;
    const transaction = pool.begin(async (tx) => {
      const pid = await pidOf(tx);
      const nextHolder = pool.reserve();
      await admin`select pg_terminate_backend(${pid})`;
      second = await nextHolder;
      await second.unsafe(`begin; select set_config('wxlive.test_holder', 'second', true)`);
      later = tx`select current_setting('wxlive.test_holder', true) as holder`.then((rows) => rows[0]?.holder);
      return later;
    });
    await expect(transaction).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    // The transaction's function goes on after the close; wait for its last query (a promise, so boxed).
    const { query } = await expectEventually(() => {
      if (!later) throw new Error('the last query is not issued yet');
      return { query: later };
    });
    await expect(query).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    await second?.unsafe('commit');
    second?.release();
  });

  it('fails a reserve whose connection cannot be made, and leaves nothing queued behind it', async () => {
    const unreachable = postgres('postgres://postgres@127.0.0.1:1/none', { max: 1, connect_timeout: 2 });
    try {
      await expect(unreachable.reserve()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      // The refused reserve left the pool's queue: the next query is tried, and refused, in turn.
      await expect(unreachable`select 1`).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      await expect(unreachable.reserve()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      await unreachable.end({ timeout: 1 });
    }
  });
});
