import { getTableColumns, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { authorizers, changeOutbox, liveApplicationEvents, liveApplications } from '../../db/tables.js';
import { APPLICATION_RETURNING, applicationViewOfCte, type LiveApplicationView } from './application.row.js';
import { TRANSITIONS, type TransitionName, type TransitionRule, UNSOLICITED_OPEN_MESSAGE } from './lifecycle.js';

/**
 * The one path every transition takes: a single prepared statement (data-modifying CTEs) that
 * applies the guarded change, appends the history event and writes the change-feed outbox row,
 * and returns the changed rows as the view with their outbox ids. One round trip where BEGIN,
 * UPDATE, INSERT, INSERT, COMMIT took five; nothing is written when the guard does not hold.
 */

/** What a caller gives a transition; only the parts its rule uses are read. */
export interface TransitionValues {
  tenantId: string;
  /** The application id (target 'id') or the merchant's app id (target 'appId'). */
  target: string;
  now: Date;
  message: string;
  /** For rules with a list of codes. */
  errorCode?: string | undefined;
  /** For ATTEMPT events: WeChat's answer. */
  errcode?: number | null | undefined;
  errmsg?: string | null | undefined;
  latencyMs?: number | null | undefined;
  /** Timestamps the transition records (submit: submittedAt, expiresAt; open: openedAt). */
  stamps?: Partial<Record<StampColumn, Date>>;
  /** Further parameters of a statement of its own kind (create's arrays). */
  extra?: Record<string, unknown>;
}

/** Columns a transition stamps with a time its caller computed. */
export type StampColumn = 'submittedAt' | 'expiresAt' | 'openedAt';
const STAMPS: Partial<Record<TransitionName, readonly StampColumn[]>> = {
  submit: ['submittedAt', 'expiresAt'],
  open: ['openedAt'],
};

/** The rows a transition changed, each with the id of its outbox row (for publication). */
export type Changed = LiveApplicationView & { outboxId: number };

export interface PreparedTransition {
  execute(values: TransitionValues): Promise<Changed[]>;
}

const COLUMNS = getTableColumns(liveApplications);
const P = (name: string) => sql.placeholder(name);
const column = (key: keyof typeof COLUMNS) => sql.identifier(COLUMNS[key].name);
const list = (values: readonly string[]) =>
  sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  );

/** Prepares the statement of one transition; `db` must be the handle its callers scope (inTenant). */
export function prepareTransition(db: Db, name: Exclude<TransitionName, 'create'>): PreparedTransition {
  const rule: TransitionRule = TRANSITIONS[name];
  const stamps = STAMPS[name] ?? [];
  const now = sql`${P('now')}::timestamptz`;
  const code = codeOf(rule);
  const attempt = rule.event === 'ATTEMPT';

  const assignments: SQL[] = [sql`${column('status')} = ${rule.to}`, sql`${column('errorCode')} = ${code}`, sql`${column('updatedAt')} = ${now}`];
  if (attempt) {
    assignments.push(
      sql`${column('errcode')} = ${P('errcode')}::int`,
      sql`${column('errmsg')} = ${P('errmsg')}::text`,
      sql`${column('attempts')} = ${column('attempts')} + 1`,
    );
  }
  for (const stamp of stamps) assignments.push(sql`${column(stamp)} = ${P(stamp)}::timestamptz`);

  const guard: SQL[] = [
    sql`${column('tenantId')} = ${P('tenantId')}::uuid`,
    rule.target === 'id' ? sql`${column('id')} = ${P('target')}::uuid` : sql`${column('appId')} = ${P('target')}::text`,
    sql`${column('status')} in (${list(rule.from)})`,
  ];
  if (rule.onlyWhenCodeChanges) guard.push(sql`${column('errorCode')} is distinct from ${code}`);
  if (rule.onlyWhenDue) guard.push(sql`${column('expiresAt')} <= ${now}`);
  // An open event applied already (processed again after a crash between its effect and the
  // inbox's processed mark): the merchant has an application opened at that very open_time.
  const openedBefore = sql`exists (select 1 from ${liveApplications} o where o."tenant_id" = ${P('tenantId')}::uuid and o."app_id" = ${P('target')}::text and o."status" = 'OPENED' and o."opened_at" = ${P('openedAt')}::timestamptz)`;
  if (name === 'open') guard.push(sql`not ${openedBefore}`);

  const update = sql`update ${liveApplications} set ${sql.join(assignments, sql`, `)} where ${sql.join(guard, sql` and `)} returning ${APPLICATION_RETURNING}`;
  const event = sql`select "id", "tenantId", ${rule.event}, "status", ${
    attempt ? sql`${P('errcode')}::int, ${P('errmsg')}::text, ${P('latencyMs')}::int, "attempts"` : sql`null::int, null::text, null::int, null::int`
  }, ${P('message')}::text, ${now}`;

  if (name !== 'open') {
    return prepared(db, `live_application_${name}`, [
      ['changed', update],
      ['events', insertEvents(sql`${event} from "changed"`)],
    ]);
  }

  // An open event also marks the merchant live-open, and with nothing pending records an OPENED
  // application so the console shows it (opened outside the gateway, or after its window). A
  // merchant open already with nothing pending changes nothing: WeChat sends one event per accepted
  // call, and a call whose answer was lost was sent again, so repeats arrive seconds apart, past
  // the inbox's de-duplication by CreateTime. Every CTE reads the statement's snapshot, so "open
  // already" is the merchant as it was before this event.
  const app = sql`${P('target')}::text`;
  const tenant = sql`${P('tenantId')}::uuid`;
  const openedAt = sql`${P('openedAt')}::timestamptz`;
  const openAlready = sql`exists (select 1 from ${authorizers} a where a."tenant_id" = ${tenant} and a."app_id" = ${app} and a."live_open")`;
  return prepared(db, 'live_application_open', [
    ['pending', update],
    [
      'marked',
      sql`update ${authorizers} set "live_open" = true, "live_opened_at" = ${openedAt}, "updated_at" = ${now}
        where "tenant_id" = ${tenant} and "app_id" = ${app} and (not "live_open" or exists (select 1 from "pending"))`,
    ],
    [
      'unsolicited',
      sql`insert into ${liveApplications} (${column('tenantId')}, ${column('appId')}, ${column('status')}, ${column('openedAt')}, ${column('createdAt')}, ${column('updatedAt')})
        select ${tenant}, ${app}, ${rule.to}, ${openedAt}, ${now}, ${now} where not exists (select 1 from "pending") and not ${openedBefore} and not ${openAlready}
        returning ${APPLICATION_RETURNING}`,
    ],
    ['changed', sql`select * from "pending" union all select * from "unsolicited"`],
    [
      'events',
      insertEvents(
        sql`${event} from "pending" union all select "id", "tenantId", ${rule.event}, "status", null::int, null::text, null::int, null::int, ${UNSOLICITED_OPEN_MESSAGE}::text, ${now} from "unsolicited"`,
      ),
    ],
  ]);
}

/** Prepares `create`: QUEUED applications for many merchants of one tenant, in one statement. */
export function prepareCreate(db: Db): { execute(values: { tenantId: string; now: Date; appIds: string[]; keys: (string | null)[] }): Promise<Changed[]> } {
  const rule = TRANSITIONS.create;
  const now = sql`${P('now')}::timestamptz`;
  // ON CONFLICT DO NOTHING: a concurrent apply for the same merchant or key wins the race (one
  // active application per merchant, one per idempotency key); the caller reads the winner back.
  const insert = sql`insert into ${liveApplications} (${column('tenantId')}, ${column('appId')}, ${column('idempotencyKey')}, ${column('status')}, ${column('createdAt')}, ${column('updatedAt')})
    select ${P('tenantId')}::uuid, "a", "k", ${rule.to}, ${now}, ${now} from unnest(${P('appIds')}::text[], ${P('keys')}::text[]) as "u"("a", "k")
    on conflict do nothing returning ${APPLICATION_RETURNING}`;
  const query = prepared(db, 'live_application_create', [
    ['changed', insert],
    [
      'events',
      insertEvents(
        sql`select "id", "tenantId", ${rule.event}, "status", null::int, null::text, null::int, null::int, ${rule.message}::text, ${now} from "changed"`,
      ),
    ],
  ]);
  return {
    execute: ({ tenantId, now: at, appIds, keys }) => query.execute({ tenantId, target: '', now: at, message: rule.message, extra: { appIds, keys } }),
  };
}

function codeOf(rule: TransitionRule): SQL {
  if (rule.errorCode === null) return sql`null::text`;
  if (typeof rule.errorCode === 'string') return sql`${rule.errorCode}::text`;
  return sql`${P('errorCode')}::text`;
}

function insertEvents(rows: SQL): SQL {
  const e = liveApplicationEvents;
  return sql`insert into ${e} ("application_id", "tenant_id", "type", "status", "errcode", "errmsg", "latency_ms", "attempt", "message", "created_at") ${rows}`;
}

const dummy = { done: sql<number>`1`.as('done') };

/**
 * Finishes a statement from its CTEs ("changed": the rows as the view, "events", and any others,
 * in order): adds the outbox rows, and selects the changed rows with their outbox ids, decoded
 * into the view. Prepared on the server under `name`.
 */
function prepared(db: Db, name: string, ctes: [name: string, body: SQL][]): PreparedTransition {
  const withs = ctes.map(([cte, body]) =>
    (cte === 'changed' || cte === 'pending' || cte === 'unsolicited' ? db.$with(cte, applicationViewOfCte) : db.$with(cte, dummy)).as(body),
  );
  const outbox = db.$with('outbox', dummy).as(sql`
    insert into ${changeOutbox} ("tenant_id", "topic", "payload", "created_at")
    select "tenantId", 'application', to_json("changed"), ${P('now')}::timestamptz from "changed"
    returning "id", "payload"->>'id' as "subject"`);
  const result = db
    .$with('result', { ...applicationViewOfCte, outboxId: sql<number>`"outboxId"`.mapWith(Number).as('outboxId') })
    .as(sql`select "changed".*, "outbox"."id" as "outboxId" from "changed" join "outbox" on "outbox"."subject" = "changed"."id"::text`);
  const query = db
    .with(...withs, outbox, result)
    .select()
    .from(result)
    .prepare(name);
  return {
    async execute(values) {
      const params: Record<string, unknown> = {
        tenantId: values.tenantId,
        target: values.target,
        now: values.now.toISOString(),
        message: values.message,
        errorCode: values.errorCode ?? null,
        errcode: values.errcode ?? null,
        errmsg: values.errmsg ?? null,
        latencyMs: values.latencyMs === null || values.latencyMs === undefined ? null : Math.round(values.latencyMs),
        ...values.extra,
      };
      for (const [key, at] of Object.entries(values.stamps ?? {})) params[key] = at.toISOString();
      return (await query.execute(params)) as Changed[];
    },
  };
}
