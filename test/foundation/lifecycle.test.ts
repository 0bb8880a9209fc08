import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPLICATION_STATUSES, type ApplicationStatus, authorizers, changeOutbox, liveApplicationEvents, liveApplications } from '../../src/db/tables.js';
import { RedisChangePublisher, replayChanges } from '../../src/events/change-feed.js';
import { OutboxRelay } from '../../src/events/outbox-relay.js';
import { ManualClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { AuthorizersService } from '../../src/services/authorizers.service.js';
import type { TenantContext } from '../../src/services/context.js';
import { ERROR_CODES } from '../../src/services/errors.js';
import { LiveApplicationLifecycle, SUBMISSION_TTL_MS, TRANSITIONS, type TransitionName } from '../../src/services/live-application/index.js';
import { createTenantWithMerchants } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';

let env: TestEnv;
let lifecycle: LiveApplicationLifecycle;
let relay: OutboxRelay;
const clock = new ManualClock(Date.UTC(2026, 0, 15, 4, 0, 0));
const ok = { errcode: 0, errmsg: 'ok', latencyMs: 10 };

beforeAll(async () => {
  env = await createTestEnv();
  const db = env.appDatabase.db;
  relay = new OutboxRelay({ db, redis: new RedisChangePublisher(env.redis, env.redisPrefix), clock, logger: silentLogger });
  const queue = { enqueue: async () => {}, remove: async () => false, scheduleExpiry: async () => {} };
  lifecycle = new LiveApplicationLifecycle({
    db,
    authorizers: new AuthorizersService(db, env.box, clock),
    queue,
    publisher: relay,
    clock,
    logger: silentLogger,
  });
});
afterAll(async () => {
  await relay?.stop();
  await env?.cleanup();
});

/** A merchant's application brought to `status` through the lifecycle's own transitions. */
async function applicationIn(status: ApplicationStatus): Promise<{ ctx: TenantContext; id: string; appId: string }> {
  const t = await createTenantWithMerchants(env.database.db, env.box, 1);
  const appId = t.appIds[0] as string;
  const [created] = await lifecycle.applyBatch(t.ctx, [appId]);
  const id = created?.application?.id as string;
  const np = { errcode: 2, errmsg: 'np', latencyMs: 10 };
  switch (status) {
    case 'QUEUED':
      break;
    case 'SUBMITTED':
      await lifecycle.submit(t.ctx, id, ok);
      break;
    case 'OPENED':
      await lifecycle.open(t.ctx, appId, new Date(clock.now()));
      break;
    case 'REJECTED':
      await lifecycle.end(t.ctx, id, 'NOT_PAID_90_DAYS', np);
      break;
    case 'FAILED':
      await lifecycle.end(t.ctx, id, 'WECHAT_ERROR', { errcode: 12345, errmsg: 'x', latencyMs: 10 });
      break;
    case 'EXPIRED':
      await lifecycle.submit(t.ctx, id, ok);
      clock.advance(SUBMISSION_TTL_MS);
      await lifecycle.expire(t.ctx, id);
      break;
    case 'CANCELLED':
      await lifecycle.cancel(t.ctx, id);
      break;
  }
  const [row] = await env.database.db.select().from(liveApplications).where(eq(liveApplications.id, id));
  expect(row?.status).toBe(status);
  return { ctx: t.ctx, id, appId };
}

/** Applies one transition the way its callers do; returns how many rows it changed. */
async function apply(name: Exclude<TransitionName, 'create' | 'open'>, ctx: TenantContext, id: string, appId: string): Promise<number> {
  const attempt = { errcode: -1, errmsg: 'busy', latencyMs: 10 };
  switch (name) {
    case 'submit':
      return (await lifecycle.submit(ctx, id, ok)) ? 1 : 0;
    case 'reject':
      return (await lifecycle.end(ctx, id, 'NOT_PAID_90_DAYS', attempt)) ? 1 : 0;
    case 'fail':
      return (await lifecycle.end(ctx, id, 'RETRIES_EXHAUSTED', attempt)) ? 1 : 0;
    case 'retry':
      return (await lifecycle.retry(ctx, id, attempt, 'again')) ? 1 : 0;
    case 'wait':
      return (await lifecycle.wait(ctx, id, 'DAILY_QUOTA_REACHED', attempt, 'tomorrow')) ? 1 : 0;
    case 'hold':
      return (await lifecycle.hold(ctx, id)) ? 1 : 0;
    case 'expire':
      clock.advance(SUBMISSION_TTL_MS);
      return (await lifecycle.expire(ctx, id)) ? 1 : 0;
    case 'cancel':
      return (await lifecycle.cancel(ctx, id)).userErrors.length === 0 ? 1 : 0;
    case 'revokeCancel':
      return (await lifecycle.cancelForRevoked(ctx, appId)).length;
  }
}

const GUARDED = (Object.keys(TRANSITIONS) as TransitionName[]).filter((n): n is Exclude<TransitionName, 'create' | 'open'> => n !== 'create' && n !== 'open');

describe('the transition table', () => {
  it('names only codes of the closed vocabulary', () => {
    for (const [name, rule] of Object.entries(TRANSITIONS)) {
      const codes = rule.errorCode === null ? [] : typeof rule.errorCode === 'string' ? [rule.errorCode] : rule.errorCode;
      for (const code of codes) expect(Object.keys(ERROR_CODES), `${name}: ${code}`).toContain(code);
    }
  });

  // Every guarded transition from every status: applied exactly when the table allows it, with its
  // status, code, one history event and one change in the feed; otherwise nothing at all.
  const cases = GUARDED.flatMap((name) => APPLICATION_STATUSES.map((from) => [name, from] as const));
  it.each(cases)('%s from %s', async (name, from) => {
    const rule = TRANSITIONS[name];
    const { ctx, id, appId } = await applicationIn(from);
    const before = await rowOf(id);
    const events = await eventsOf(id);
    const feed = await feedOf(ctx.tenantId);

    const changed = await apply(name, ctx, id, appId);
    await relay.settled();

    const after = await rowOf(id);
    const allowed = (rule.from as readonly ApplicationStatus[]).includes(from);
    expect(changed).toBe(allowed ? 1 : 0);
    if (!allowed) {
      expect(after).toEqual(before);
      expect(await eventsOf(id)).toEqual(events);
      expect(await feedOf(ctx.tenantId)).toEqual(feed);
      return;
    }
    expect(after?.status).toBe(rule.to);
    if (typeof rule.errorCode === 'string' || rule.errorCode === null) expect(after?.errorCode).toBe(rule.errorCode);
    else expect(rule.errorCode).toContain(after?.errorCode);
    const added = (await eventsOf(id)).slice(events.length);
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({ type: rule.event, status: rule.to });
    expect(after?.attempts).toBe((before?.attempts ?? 0) + (rule.event === 'ATTEMPT' ? 1 : 0));
    const published = (await feedOf(ctx.tenantId)).slice(feed.length);
    expect(published).toEqual([expect.objectContaining({ id, status: rule.to, errorCode: after?.errorCode, updatedAt: after?.updatedAt.toISOString() })]);
    // Published, so deleted from the outbox.
    expect(await env.database.db.select().from(changeOutbox).where(eq(changeOutbox.tenantId, ctx.tenantId))).toEqual([]);
  });

  it('opens a pending application, records one when nothing is pending, and leaves a merchant open already as it is', async () => {
    const pending = await applicationIn('SUBMITTED');
    const opened = await lifecycle.open(pending.ctx, pending.appId, new Date(clock.now()));
    expect(opened).toMatchObject({ id: pending.id, status: 'OPENED', errorCode: null });
    // A later open event (another open_time) for the merchant, open now with nothing pending: a
    // repeat of WeChat's, nothing to change, nothing written.
    const feed = await feedOf(pending.ctx.tenantId);
    expect(await lifecycle.open(pending.ctx, pending.appId, new Date(clock.now() + 60_000))).toBeUndefined();
    const rows = await env.database.db.select().from(liveApplications).where(eq(liveApplications.appId, pending.appId));
    expect(rows.map((r) => r.id)).toEqual([pending.id]);
    expect(await feedOf(pending.ctx.tenantId)).toEqual(feed);
    // A merchant not open here with nothing pending (opened outside the gateway): one OPENED application recorded.
    const t = await createTenantWithMerchants(env.database.db, env.box, 1);
    const appId = t.appIds[0] as string;
    const recorded = await lifecycle.open(t.ctx, appId, new Date(clock.now()));
    expect(recorded?.status).toBe('OPENED');
    expect((await eventsOf(recorded?.id ?? '')).map((e) => e.message)).toEqual(['WeChat reported live broadcasting opened with no pending application here.']);
    const [merchant] = await env.database.db.select().from(authorizers).where(eq(authorizers.appId, appId));
    expect(merchant?.liveOpen).toBe(true);
  });

  it('changes nothing when the same open event comes again (its push processed twice), whatever is pending then', async () => {
    const pending = await applicationIn('SUBMITTED');
    const openTime = new Date(clock.now() - 5_000);
    expect(await lifecycle.open(pending.ctx, pending.appId, openTime)).toMatchObject({ id: pending.id, status: 'OPENED' });
    // Applied again meanwhile: the old event must not open the new application either.
    const [reapplied] = await lifecycle.applyBatch(pending.ctx, [pending.appId]);
    expect(await lifecycle.open(pending.ctx, pending.appId, openTime)).toBeUndefined();
    const rows = await env.database.db.select().from(liveApplications).where(eq(liveApplications.appId, pending.appId));
    expect(rows.map((r) => r.status).sort()).toEqual(reapplied?.application?.status === 'QUEUED' ? ['OPENED', 'QUEUED'] : ['OPENED']);
  });

  it('notes a hold once, however often the job is held', async () => {
    const { ctx, id } = await applicationIn('QUEUED');
    expect(await lifecycle.hold(ctx, id)).toBeDefined();
    expect(await lifecycle.hold(ctx, id)).toBeUndefined();
    expect((await eventsOf(id)).filter((e) => e.type === 'NOTE')).toHaveLength(1);
  });

  it('stamps one clock on a row: created, submitted, expiring and updated times all from the injected clock', async () => {
    const { ctx, id } = await applicationIn('QUEUED');
    clock.advance(5_000);
    await lifecycle.submit(ctx, id, ok);
    const row = await rowOf(id);
    expect(row?.submittedAt?.getTime()).toBe(clock.now());
    expect(row?.updatedAt.getTime()).toBe(clock.now());
    expect(row?.expiresAt?.getTime()).toBe(clock.now() + SUBMISSION_TTL_MS);
    expect(row?.createdAt.getTime()).toBe(clock.now() - 5_000);
  });
});

async function rowOf(id: string) {
  const [row] = await env.database.db.select().from(liveApplications).where(eq(liveApplications.id, id));
  return row;
}

function eventsOf(applicationId: string) {
  return env.database.db
    .select()
    .from(liveApplicationEvents)
    .where(and(eq(liveApplicationEvents.applicationId, applicationId)))
    .orderBy(liveApplicationEvents.id);
}

async function feedOf(tenantId: string) {
  return (await replayChanges(env.redis, env.redisPrefix, tenantId, '0-0')).changes.map((c) => c.application);
}
