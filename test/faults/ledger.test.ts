import { describe, expect, it } from 'vitest';
import { compareLedger, formatLedger, type LedgerSnapshot, pushesFromSimulator } from '../support/ledger.js';

const T = '11111111-1111-4111-8111-111111111111';
const A = 'wx00000000000000a1';
const B = 'wx00000000000000b2';
const AT = Date.parse('2026-01-15T04:00:00.000Z');

type Row = LedgerSnapshot['rows'][number];
type Inbox = LedgerSnapshot['inbox'][number];

function row(id: string, appId: string, status: Row['status'], extra: Partial<Row> = {}): Row {
  const submitted = status === 'SUBMITTED' || status === 'OPENED';
  return { id, tenantId: T, appId, status, attempts: submitted ? 1 : 0, submittedAt: submitted ? new Date(AT) : null, errorCode: null, ...extra };
}

function inbox(appId: string | null, extra: Partial<Inbox> = {}): Inbox {
  return {
    tenantId: T,
    kind: appId ? 'event' : 'auth',
    appId,
    eventType: appId ? 'wxa_live_apply_event' : 'component_verify_ticket',
    receivedAt: new Date(AT + 20),
    processedAt: new Date(AT + 40),
    attempts: 1,
    lastError: null,
    ...extra,
  };
}

/** A balanced run: A opened after its push, B submitted and waiting. */
function balanced(): LedgerSnapshot {
  return {
    rows: [row('a1', A, 'OPENED'), row('b1', B, 'SUBMITTED')],
    inbox: [inbox(null), inbox(A)],
    quotaByTenant: new Map([[T, 100]]),
    merchants: [
      { tenantId: T, appId: A },
      { tenantId: T, appId: B },
    ],
    calls: { [A]: 1, [B]: 1 },
    simDailyLimit: 100,
    pushes: [
      { tenantId: T, kind: 'auth', appId: null, status: 200, body: 'success', atMs: AT },
      { tenantId: T, kind: 'event', appId: A, status: 200, body: 'success', atMs: AT },
    ],
  };
}

const accepted = [
  { tenantId: T, appId: A, id: 'a1' },
  { tenantId: T, appId: B, id: 'b1' },
];

describe('the ledger', () => {
  it('balances when every source agrees, with figures for the summary', () => {
    const report = compareLedger(balanced(), accepted, {});
    expect(report.problems).toEqual([]);
    expect(report.figures).toEqual({
      accepted: 2,
      byStatus: { OPENED: 1, SUBMITTED: 1 },
      applyCalls: 2,
      unrecordedCalls: 0,
      pushesAcknowledged: 2,
      pushesRefused: 0,
      inboxRows: 2,
      inboxUnprocessed: 0,
    });
    expect(formatLedger(report)).toMatch(/^ledger: balanced\n {2}accepted 2 \(OPENED 1, SUBMITTED 1\)/);
  });

  it('names an accepted application without a row, or in a state the test did not expect', () => {
    const s = balanced();
    s.rows = [row('a1', A, 'QUEUED')];
    const report = compareLedger(s, accepted, { expectedStatus: () => ['OPENED'] });
    expect(report.problems).toContain('application a1 (wx00000000000000a1): QUEUED, expected OPENED');
    expect(report.problems).toContain('application b1 (wx00000000000000b2): accepted by the API, no row');
  });

  it('names a merchant WeChat saw called beyond quota, or submitted without a call', () => {
    const s = balanced();
    s.quotaByTenant.set(T, 2);
    s.calls = { [A]: 3, [B]: 0 };
    s.rows = [row('a1', A, 'OPENED', { attempts: 3 }), row('b1', B, 'SUBMITTED', { attempts: 0 })];
    expect(compareLedger(s, accepted, {}).problems).toEqual([
      'wx00000000000000a1: WeChat saw 3 applyliveinfo calls, quota is 2',
      'wx00000000000000b2: 1 applications SUBMITTED, WeChat saw only 0 applyliveinfo calls',
    ]);
  });

  it('names calls whose outcome the gateway never recorded, beyond those a test allows', () => {
    const s = balanced();
    s.calls = { [A]: 2, [B]: 1 };
    const problem =
      'wx00000000000000a1: WeChat saw 2 applyliveinfo calls, the gateway recorded 1 (1 unrecorded, 0 allowed): an application may have been sent twice';
    expect(compareLedger(s, accepted, {}).problems).toEqual([problem]);
    const allowed = compareLedger(s, accepted, { unrecordedCallsAllowed: (appId) => (appId === A ? 1 : 0) });
    expect(allowed.problems).toEqual([]);
    expect(allowed.figures.unrecordedCalls).toBe(1);
  });

  it('names a merchant with two live applications, and an OPENED record no apply asked for', () => {
    const s = balanced();
    s.rows.push(row('a2', A, 'OPENED', { attempts: 0, submittedAt: null }));
    expect(compareLedger(s, accepted, {}).problems).toEqual([
      'wx00000000000000a1: 2 applications SUBMITTED/OPENED at once: a1 OPENED, a2 OPENED',
      'wx00000000000000a1: OPENED record a2 that no apply asked for (an open event found nothing pending)',
    ]);
  });

  it('names an acknowledged push with no inbox row, one never processed, and an open event that opened nothing', () => {
    const s = balanced();
    s.inbox = [inbox(A, { processedAt: null, attempts: 8, lastError: 'Error: boom' })];
    s.pushes = [
      ...s.pushes,
      { tenantId: T, kind: 'event', appId: B, status: 200, body: 'success', atMs: AT },
      { tenantId: T, kind: 'event', appId: B, status: 503, body: 'STORE_UNAVAILABLE', atMs: AT },
    ];
    const report = compareLedger(s, accepted, {});
    expect(report.problems).toEqual([
      `push to auth of tenant ${T} at 2026-01-15T04:00:00.000Z: acknowledged 'success', no inbox row`,
      `push to events/${A} of tenant ${T} at 2026-01-15T04:00:00.000Z: acknowledged and stored, never processed (attempts 8, last error Error: boom)`,
      `push to events/${B} of tenant ${T} at 2026-01-15T04:00:00.000Z: acknowledged 'success', no inbox row`,
    ]);
    expect(report.figures).toMatchObject({ pushesAcknowledged: 3, pushesRefused: 1, inboxUnprocessed: 1 });

    const opened = balanced();
    opened.rows = [row('a1', A, 'SUBMITTED'), row('b1', B, 'SUBMITTED')];
    expect(compareLedger(opened, accepted, {}).problems).toEqual([
      `push to events/${A} of tenant ${T} at 2026-01-15T04:00:00.000Z: open event acknowledged and processed, ${A} has no OPENED application`,
    ]);
  });

  it('reads the tenant and URL kind of the simulator’s push records from their URLs', () => {
    const url = `http://127.0.0.1:1/webhooks/wechat/${T}`;
    const pushes = pushesFromSimulator([
      { kind: 'component_verify_ticket', url: `${url}/auth`, appId: 'wxcomponent', status: 200, body: 'success', error: null, atMs: AT },
      { kind: 'wxa_live_apply_event', url: `${url}/events/${A}`, appId: A, status: null, body: null, error: 'ECONNREFUSED', atMs: AT },
    ]);
    expect(pushes).toEqual([
      { tenantId: T, kind: 'auth', appId: null, status: 200, body: 'success', atMs: AT },
      { tenantId: T, kind: 'event', appId: A, status: null, body: null, atMs: AT },
    ]);
  });
});
