import { inArray } from 'drizzle-orm';
import type { Db } from '../../src/db/client.js';
import { type ApplicationStatus, APPLICATION_STATUSES, authorizers, liveApplications, tenants, webhookInbox } from '../../src/db/tables.js';
import type { SimulatorAdmin } from '../../src/wechat/simulator/admin-client.js';
import type { PushRecord } from '../../src/wechat/simulator/types.js';

/**
 * The ledger: what the API accepted, what WeChat (the simulator) received, what the webhook
 * acknowledged, and the rows left in Postgres, compared after a fault or a soak. Every
 * difference is one readable line.
 */

/** One push as WeChat saw it: where it went and what the gateway finally answered. */
export interface LedgerPush {
  tenantId: string;
  /** The URL it went to: the authorization event URL or the message and event URL. */
  kind: 'auth' | 'event';
  /** The merchant, for pushes to the events URL; null for the auth URL. */
  appId: string | null;
  /** null: no answer (refused, reset, timed out). */
  status: number | null;
  body: string | null;
  /** When WeChat sent it (ms since the epoch). */
  atMs: number;
  /** Deliveries it took, WeChat's redeliveries included. */
  deliveries?: number;
  /** What was sent, when the recorder keeps it (PushRelay): the query string and the body, byte for byte. */
  sent?: { query: string; body: Buffer };
  /** The gateway's x-wxlive-outcome on its last answer (accepted, duplicate, replayed), when the recorder keeps it. */
  outcome?: string | null;
}

/** An application id the API returned from applyLive or applyLiveBatch. */
export interface AcceptedApplication {
  tenantId: string;
  appId: string;
  id: string;
}

export interface LedgerSources {
  db: Db;
  sim: SimulatorAdmin;
  tenantIds: readonly string[];
  accepted: readonly AcceptedApplication[];
  /** Default: the simulator's push records (its last 200). */
  pushes?: readonly LedgerPush[];
}

export interface LedgerRules {
  /** Statuses an accepted application may end in; default every status but QUEUED. */
  expectedStatus?: (application: AcceptedApplication) => readonly ApplicationStatus[];
  /**
   * applyliveinfo calls whose outcome the gateway never recorded, per app id: each is a call that
   * may have applied twice. Default 0; a worker killed during its call leaves one.
   */
  unrecordedCallsAllowed?: (appId: string) => number;
  /** OPENED records that no apply asked for (pushes for merchants nobody applied for). Default false. */
  allowUnrequestedOpen?: boolean;
  /** How far apart a push and its inbox row's received_at may be; default 60 s. */
  pushSlackMs?: number;
}

export interface LedgerFigures {
  accepted: number;
  byStatus: Partial<Record<ApplicationStatus, number>>;
  applyCalls: number;
  unrecordedCalls: number;
  pushesAcknowledged: number;
  pushesRefused: number;
  inboxRows: number;
  inboxUnprocessed: number;
}

export interface LedgerReport {
  ok: boolean;
  problems: string[];
  figures: LedgerFigures;
}

/** Everything the ledger compares, read at one moment. */
export interface LedgerSnapshot {
  rows: {
    id: string;
    tenantId: string;
    appId: string;
    status: ApplicationStatus;
    attempts: number;
    submittedAt: Date | null;
    errorCode: string | null;
  }[];
  inbox: {
    tenantId: string;
    kind: 'auth' | 'event';
    appId: string | null;
    eventType: string;
    receivedAt: Date;
    processedAt: Date | null;
    attempts: number;
    lastError: string | null;
  }[];
  quotaByTenant: Map<string, number>;
  merchants: { tenantId: string; appId: string }[];
  calls: Record<string, number>;
  simDailyLimit: number;
  pushes: readonly LedgerPush[];
}

/** The simulator's push records as ledger pushes (the tenant and URL kind come from the URL). */
export function pushesFromSimulator(records: readonly PushRecord[]): LedgerPush[] {
  return records.flatMap((r) => {
    const match = /\/webhooks\/wechat\/([^/]+)\/(auth|events\/[^/?]+)/.exec(r.url);
    if (!match?.[1]) return [];
    const kind = match[2] === 'auth' ? 'auth' : 'event';
    return [{ tenantId: match[1], kind, appId: kind === 'event' ? r.appId : null, status: r.status, body: r.body, atMs: r.atMs }];
  });
}

/** Reads the rows, the simulator's counters and the pushes once. */
export async function readLedger(sources: LedgerSources): Promise<LedgerSnapshot> {
  const { db, sim } = sources;
  const ids = [...sources.tenantIds];
  // The pushes as answered before the inbox is read: the gateway commits a push before it answers,
  // so each of these has its row; one answered while the queries run is for the next read.
  const pushes = sources.pushes?.map((p) => ({ ...p }));
  const [rows, inbox, tenantRows, merchants, counters, settings] = await Promise.all([
    db
      .select({
        id: liveApplications.id,
        tenantId: liveApplications.tenantId,
        appId: liveApplications.appId,
        status: liveApplications.status,
        attempts: liveApplications.attempts,
        submittedAt: liveApplications.submittedAt,
        errorCode: liveApplications.errorCode,
      })
      .from(liveApplications)
      .where(inArray(liveApplications.tenantId, ids)),
    db
      .select({
        tenantId: webhookInbox.tenantId,
        kind: webhookInbox.kind,
        appId: webhookInbox.appId,
        eventType: webhookInbox.eventType,
        receivedAt: webhookInbox.receivedAt,
        processedAt: webhookInbox.processedAt,
        attempts: webhookInbox.attempts,
        lastError: webhookInbox.lastError,
      })
      .from(webhookInbox)
      .where(inArray(webhookInbox.tenantId, ids)),
    db.select({ id: tenants.id, quota: tenants.dailyQuotaPerApp }).from(tenants).where(inArray(tenants.id, ids)),
    db.select({ tenantId: authorizers.tenantId, appId: authorizers.appId }).from(authorizers).where(inArray(authorizers.tenantId, ids)),
    sim.counters(),
    sim.getSettings(),
  ]);
  return {
    rows,
    inbox,
    quotaByTenant: new Map(tenantRows.map((t) => [t.id, t.quota])),
    merchants,
    calls: counters.calls.applyliveinfo?.byAppId ?? {},
    simDailyLimit: settings.applyLiveDailyLimit,
    pushes: pushes ?? pushesFromSimulator(counters.pushes.recent),
  };
}

const TERMINAL_OR_WAITING = APPLICATION_STATUSES.filter((s) => s !== 'QUEUED');

/** Compares a snapshot with what the API accepted; every difference is one line of `problems`. */
export function compareLedger(s: LedgerSnapshot, accepted: readonly AcceptedApplication[], rules: LedgerRules): LedgerReport {
  const problems: string[] = [];
  const rowById = new Map(s.rows.map((r) => [r.id, r]));
  const acceptedIds = new Set(accepted.map((a) => a.id));
  const byStatus: Partial<Record<ApplicationStatus, number>> = {};

  // 1. Every application the API accepted exists and ended where it should.
  for (const a of accepted) {
    const row = rowById.get(a.id);
    if (!row) {
      problems.push(`application ${a.id} (${a.appId}): accepted by the API, no row`);
      continue;
    }
    byStatus[row.status] = (byStatus[row.status] ?? 0) + 1;
    const expected = rules.expectedStatus?.(a) ?? TERMINAL_OR_WAITING;
    if (!expected.includes(row.status)) {
      const why = row.errorCode ? ` (${row.errorCode})` : '';
      problems.push(`application ${a.id} (${a.appId}): ${row.status}${why}, expected ${expected.join(' | ')}`);
    }
  }

  // 2. Per merchant: WeChat's calls within quota, each submission backed by a call, each call's outcome recorded.
  let applyCalls = 0;
  let unrecordedCalls = 0;
  const rowsByApp = groupBy(s.rows, (r) => `${r.tenantId}/${r.appId}`);
  for (const m of s.merchants) {
    const calls = s.calls[m.appId] ?? 0;
    applyCalls += calls;
    const rows = rowsByApp.get(`${m.tenantId}/${m.appId}`) ?? [];
    const quota = Math.min(s.quotaByTenant.get(m.tenantId) ?? Number.POSITIVE_INFINITY, s.simDailyLimit);
    if (calls > quota) problems.push(`${m.appId}: WeChat saw ${calls} applyliveinfo calls, quota is ${quota}`);
    const submitted = rows.filter((r) => r.submittedAt !== null).length;
    if (submitted > calls) problems.push(`${m.appId}: ${submitted} applications SUBMITTED, WeChat saw only ${calls} applyliveinfo calls`);
    const recorded = rows.reduce((n, r) => n + r.attempts, 0);
    const unrecorded = Math.max(0, calls - recorded);
    unrecordedCalls += unrecorded;
    const allowed = rules.unrecordedCallsAllowed?.(m.appId) ?? 0;
    if (unrecorded > allowed) {
      problems.push(
        `${m.appId}: WeChat saw ${calls} applyliveinfo calls, the gateway recorded ${recorded} (${unrecorded} unrecorded, ${allowed} allowed): an application may have been sent twice`,
      );
    }
    const live = rows.filter((r) => r.status === 'SUBMITTED' || r.status === 'OPENED');
    if (live.length > 1)
      problems.push(`${m.appId}: ${live.length} applications SUBMITTED/OPENED at once: ${live.map((r) => `${r.id} ${r.status}`).join(', ')}`);
  }
  if (!rules.allowUnrequestedOpen) {
    for (const r of s.rows) {
      if (r.status === 'OPENED' && !acceptedIds.has(r.id)) {
        problems.push(`${r.appId}: OPENED record ${r.id} that no apply asked for (an open event found nothing pending)`);
      }
    }
  }

  // 3. Every push the webhook acknowledged is stored, processed, and (open events) opened its merchant.
  const slack = rules.pushSlackMs ?? 60_000;
  let pushesAcknowledged = 0;
  let pushesRefused = 0;
  // Indexed by where a push went: a soak's ledger holds tens of thousands of pushes and rows.
  const inboxAt = new Map<string, typeof s.inbox>();
  for (const i of s.inbox) {
    const key = `${i.tenantId}/${i.kind}/${i.kind === 'auth' ? '' : i.appId}`;
    const list = inboxAt.get(key);
    if (list) list.push(i);
    else inboxAt.set(key, [i]);
  }
  for (const p of s.pushes) {
    if (!(p.status === 200 && p.body === 'success')) {
      pushesRefused++;
      continue;
    }
    pushesAcknowledged++;
    const what = `push to ${p.kind === 'auth' ? 'auth' : `events/${p.appId}`} of tenant ${p.tenantId} at ${new Date(p.atMs).toISOString()}`;
    const stored = (inboxAt.get(`${p.tenantId}/${p.kind}/${p.kind === 'auth' ? '' : p.appId}`) ?? []).filter(
      (i) => Math.abs(i.receivedAt.getTime() - p.atMs) <= slack,
    );
    if (stored.length === 0) {
      problems.push(`${what}: acknowledged 'success', no inbox row`);
      continue;
    }
    const unprocessed = stored.filter((i) => i.processedAt === null);
    if (unprocessed.length === stored.length) {
      const i = unprocessed[0];
      problems.push(`${what}: acknowledged and stored, never processed (attempts ${i?.attempts}, last error ${i?.lastError ?? 'none'})`);
      continue;
    }
    if (p.kind === 'event' && stored.some((i) => i.eventType === 'wxa_live_apply_event')) {
      const opened = (rowsByApp.get(`${p.tenantId}/${p.appId}`) ?? []).some((r) => r.status === 'OPENED');
      if (!opened) problems.push(`${what}: open event acknowledged and processed, ${p.appId} has no OPENED application`);
    }
  }

  return {
    ok: problems.length === 0,
    problems,
    figures: {
      accepted: accepted.length,
      byStatus,
      applyCalls,
      unrecordedCalls,
      pushesAcknowledged,
      pushesRefused,
      inboxRows: s.inbox.length,
      inboxUnprocessed: s.inbox.filter((i) => i.processedAt === null).length,
    },
  };
}

/** Reads every source once and compares them. */
export async function checkLedger(sources: LedgerSources, rules: LedgerRules = {}): Promise<LedgerReport> {
  return compareLedger(await readLedger(sources), sources.accepted, rules);
}

export function formatLedger(report: LedgerReport): string {
  const f = report.figures;
  const statuses = Object.entries(f.byStatus)
    .map(([status, n]) => `${status} ${n}`)
    .join(', ');
  const lines = [
    `ledger: ${report.ok ? 'balanced' : `${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}`}`,
    ...report.problems.map((p) => `  ✗ ${p}`),
    `  accepted ${f.accepted} (${statuses || 'none'}); applyliveinfo calls ${f.applyCalls} (${f.unrecordedCalls} unrecorded);` +
      ` pushes acknowledged ${f.pushesAcknowledged}, refused ${f.pushesRefused}; inbox ${f.inboxRows} rows (${f.inboxUnprocessed} unprocessed)`,
  ];
  return lines.join('\n');
}

/** The ledger did not balance; the message is the readable report. */
export class LedgerImbalance extends Error {
  override readonly name = 'LedgerImbalance';
  constructor(readonly report: LedgerReport) {
    super(formatLedger(report));
  }
}

/**
 * Polls the ledger until it balances (the worker and the inbox finish asynchronously) and fails
 * with the last report's lines when it does not within `timeoutMs`.
 */
export async function expectLedgerBalanced(
  sources: LedgerSources | (() => LedgerSources),
  rules: LedgerRules & { timeoutMs?: number; intervalMs?: number } = {},
): Promise<LedgerReport> {
  const deadline = Date.now() + (rules.timeoutMs ?? 15_000);
  for (;;) {
    const report = await checkLedger(typeof sources === 'function' ? sources() : sources, rules);
    if (report.ok) return report;
    if (Date.now() > deadline) throw new LedgerImbalance(report);
    await new Promise((resolve) => setTimeout(resolve, rules.intervalMs ?? 250));
  }
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}
