import postgres from 'postgres';
import { TEST_APPLICATION_NAME } from '../../support/test-env.js';

/**
 * A transaction of the test's own on its own connection: it takes row locks so that the
 * gateway's next statement on those rows waits, then terminates every other connection to the
 * gateway's connections to the database while that statement is in flight, as a Postgres
 * failover or restart does (the test's own observer connections are spared).
 */
export class PgBlocker {
  private constructor(
    private readonly sql: postgres.Sql,
    private readonly tx: postgres.ReservedSql,
    private readonly database: string,
  ) {}

  static async open(databaseUrl: string): Promise<PgBlocker> {
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    const tx = await sql.reserve();
    await tx`begin`;
    return new PgBlocker(sql, tx, new URL(databaseUrl).pathname.slice(1));
  }

  /** Runs a statement inside the blocking transaction (a SELECT ... FOR UPDATE, an uncommitted INSERT). */
  run(query: string, params: postgres.ParameterOrJSON<never>[] = []): Promise<postgres.RowList<postgres.Row[]>> {
    return this.tx.unsafe(query, params);
  }

  /** Statements of other connections waiting for this transaction's locks. */
  async waiting(): Promise<number> {
    const [row] = await this.tx`
      select count(*)::int as n from pg_stat_activity
      where datname = ${this.database} and wait_event_type = 'Lock' and pid <> pg_backend_pid()`;
    return (row?.n as number | undefined) ?? 0;
  }

  /** Kills the gateway's connections to the database, the waiting ones included. */
  async terminateOthers(): Promise<number> {
    const rows = await this.tx`
      select pg_terminate_backend(pid) from pg_stat_activity
      where datname = ${this.database} and pid <> pg_backend_pid() and application_name <> ${TEST_APPLICATION_NAME}`;
    return rows.length;
  }

  /** Cancels the statements waiting for this transaction's locks (as a statement timeout would); their connections live on. */
  async cancelWaiting(): Promise<number> {
    const rows = await this.tx`
      select pg_cancel_backend(pid) from pg_stat_activity
      where datname = ${this.database} and wait_event_type = 'Lock' and pid <> pg_backend_pid()`;
    return rows.length;
  }

  /** Rolls back (releasing every lock) and closes the connection. */
  async release(): Promise<void> {
    await this.tx`rollback`.catch(() => {});
    this.tx.release();
    await this.sql.end({ timeout: 1 });
  }
}
