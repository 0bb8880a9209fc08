import { randomUUID } from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { authorizers } from '../db/tables.js';
import { inTenant } from '../db/tenant-scope.js';
import type { Clock } from '../lib/clock.js';
import type { SecretBox } from '../lib/secret-box.js';
import { isAppId } from './app-id.js';
import type { TenantContext } from './context.js';
import { clampPageSize, decodeCursor, type Page } from './cursor.js';
import { DomainError, type UserError, userError } from './errors.js';
import type { WebhookDeliveryQueue } from './webhooks/deliveries.service.js';
import { recordEventDeliveries } from './webhooks/event-fan-out.js';

export const LIVE_PERMISSION_SET = 52;

export interface Authorizer {
  id: string;
  appId: string;
  permissionSets: number[];
  status: 'AUTHORIZED' | 'REVOKED';
  liveOpen: boolean;
  liveOpenedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ImportAuthorizerInput {
  appId: string;
  refreshToken: string;
  /** Granted permission set ids; when omitted, live (52) is assumed granted and WeChat has the last word (61007). */
  permissionSets?: number[] | undefined;
  /**
   * Live is already open for this merchant (opened before the gateway: WeChat grants no new live
   * permissions today, errcode 268489001). The gateway then serves its rooms, goods and roles
   * without an application. An import never closes live that is open.
   */
  liveOpen?: boolean | null | undefined;
}

export interface ImportResult {
  appId: string;
  authorizer: Authorizer | null;
  userErrors: UserError[];
}

const columns = {
  id: authorizers.id,
  appId: authorizers.appId,
  permissionSets: authorizers.permissionSets,
  status: authorizers.status,
  liveOpen: authorizers.liveOpen,
  liveOpenedAt: authorizers.liveOpenedAt,
  createdAt: authorizers.createdAt,
  updatedAt: authorizers.updatedAt,
};

export const MAX_IMPORT = 1000;

/** `authorizer.updated`'s data: the Authorizer as the API shows it (never its refresh token). */
function authorizerData(a: Authorizer): Record<string, unknown> {
  return {
    id: a.id,
    appId: a.appId,
    status: a.status,
    permissionSets: a.permissionSets,
    liveOpen: a.liveOpen,
    liveOpenedAt: a.liveOpenedAt?.toISOString() ?? null,
    createdAt: a.createdAt.toISOString(),
    updatedAt: a.updatedAt.toISOString(),
  };
}

export class AuthorizersService {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly clock: Clock,
    /** Where `authorizer.updated` deliveries are enqueued after commit; without it they wait for the delivery sweep. */
    private readonly webhookQueue?: WebhookDeliveryQueue,
  ) {}

  /**
   * Runs an authorizer write and, in its transaction, makes the `authorizer.updated` deliveries
   * for the rows it wrote (one indexed lookup of EVENTS endpoints); enqueues them after commit.
   * A lost enqueue only waits for the delivery sweep: the deliveries are committed with the change.
   */
  private async written(ctx: TenantContext, write: (db: Db) => Promise<Authorizer[]>): Promise<Authorizer[]> {
    const { rows, due } = await inTenant(this.db, ctx.tenantId, async (db) => {
      const rows = await write(db);
      const due = await recordEventDeliveries(
        db,
        this.clock,
        rows.map((a) => ({
          tenantId: ctx.tenantId,
          type: 'authorizer.updated' as const,
          source: `authorizer:${a.id}:${randomUUID()}`,
          data: authorizerData(a),
        })),
      );
      return { rows, due };
    });
    if (due.length > 0) await this.webhookQueue?.enqueue(due).catch(() => undefined);
    return rows;
  }

  /** Providers moving existing merchants in: upserts by app id, one statement for the batch. */
  async import(ctx: TenantContext, items: ImportAuthorizerInput[]): Promise<ImportResult[]> {
    if (items.length > MAX_IMPORT) throw new DomainError('BATCH_TOO_LARGE', `Got ${items.length} authorizers.`);
    const results: ImportResult[] = items.map((i) => ({ appId: i.appId, authorizer: null, userErrors: [] }));
    const valid = new Map<string, ImportAuthorizerInput>();
    items.forEach((item, index) => {
      const r = results[index];
      if (!r) return;
      if (!isAppId(item.appId)) r.userErrors.push(userError('INVALID_APP_ID', `"${item.appId}" is not an app id.`, ['input', String(index), 'appId']));
      else if (item.refreshToken.trim() === '')
        r.userErrors.push(userError('INVALID_INPUT', 'refreshToken is empty.', ['input', String(index), 'refreshToken']));
      else valid.set(item.appId, item);
    });
    if (valid.size > 0) {
      const now = new Date(this.clock.now());
      const rows = await this.written(ctx, (db) =>
        db
          .insert(authorizers)
          .values(
            [...valid.values()].map((i) => ({
              tenantId: ctx.tenantId,
              appId: i.appId,
              refreshTokenEnc: this.box.seal(i.refreshToken),
              permissionSets: i.permissionSets ?? [LIVE_PERMISSION_SET],
              status: 'AUTHORIZED' as const,
              liveOpen: i.liveOpen === true,
              liveOpenedAt: i.liveOpen === true ? now : null,
              createdAt: now,
              updatedAt: now,
            })),
          )
          .onConflictDoUpdate({
            target: [authorizers.tenantId, authorizers.appId],
            set: {
              refreshTokenEnc: sql`excluded.refresh_token_enc`,
              permissionSets: sql`excluded.permission_sets`,
              status: 'AUTHORIZED',
              liveOpen: sql`${authorizers.liveOpen} or excluded.live_open`,
              liveOpenedAt: sql`coalesce(${authorizers.liveOpenedAt}, excluded.live_opened_at)`,
              updatedAt: now,
            },
          })
          .returning(columns),
      );
      const byAppId = new Map(rows.map((r) => [r.appId, r]));
      for (const r of results) if (r.userErrors.length === 0) r.authorizer = byAppId.get(r.appId) ?? null;
    }
    return results;
  }

  async get(ctx: TenantContext, appId: string): Promise<Authorizer | undefined> {
    const [row] = await inTenant(this.db, ctx.tenantId, (db) =>
      db
        .select(columns)
        .from(authorizers)
        .where(and(eq(authorizers.tenantId, ctx.tenantId), eq(authorizers.appId, appId))),
    );
    return row;
  }

  async getMany(ctx: TenantContext, appIds: readonly string[]): Promise<Map<string, Authorizer>> {
    if (appIds.length === 0) return new Map();
    const rows = await inTenant(this.db, ctx.tenantId, (db) =>
      db
        .select(columns)
        .from(authorizers)
        .where(and(eq(authorizers.tenantId, ctx.tenantId), inArray(authorizers.appId, [...appIds]))),
    );
    return new Map(rows.map((r) => [r.appId, r]));
  }

  async list(ctx: TenantContext, first?: number | null, after?: string | null): Promise<Page<Authorizer>> {
    const limit = clampPageSize(first);
    const cursor = after ? decodeCursor(after) : undefined;
    if (after && !cursor) throw new DomainError('INVALID_INPUT', 'The "after" cursor is not one this API issued.');
    const rows = await inTenant(this.db, ctx.tenantId, (db) =>
      db
        .select(columns)
        .from(authorizers)
        .where(
          and(
            eq(authorizers.tenantId, ctx.tenantId),
            // A row comparison the keyset index takes as a range start (an OR of the parts is only a filter).
            cursor ? sql`(${authorizers.createdAt}, ${authorizers.id}) < (${cursor.createdAt.toISOString()}::timestamptz, ${cursor.id}::uuid)` : undefined,
          ),
        )
        // Ordered like authorizers_tenant_created_idx (desc nulls last), or Postgres sorts every row of the tenant.
        .orderBy(sql`${authorizers.createdAt} desc nulls last`, sql`${authorizers.id} desc nulls last`)
        .limit(limit + 1),
    );
    return { items: rows.slice(0, limit), hasNextPage: rows.length > limit };
  }

  /** How many merchants the tenant has, exact (count(*) over authorizers_tenant_created_idx's range of the tenant). */
  async count(ctx: TenantContext): Promise<number> {
    const [row] = await inTenant(this.db, ctx.tenantId, (db) =>
      db.select({ n: sql<number>`count(*)::int` }).from(authorizers).where(eq(authorizers.tenantId, ctx.tenantId)),
    );
    return row?.n ?? 0;
  }

  /** From an `authorized` / `updateauthorized` push, after exchanging the authorization code. */
  async upsertAuthorized(ctx: TenantContext, input: Required<Omit<ImportAuthorizerInput, 'liveOpen'>>): Promise<Authorizer> {
    const { tenantId } = ctx;
    const now = new Date(this.clock.now());
    const [row] = await this.written(ctx, (db) =>
      db
        .insert(authorizers)
        .values({
          tenantId,
          appId: input.appId,
          refreshTokenEnc: this.box.seal(input.refreshToken),
          permissionSets: input.permissionSets,
          createdAt: now,
          updatedAt: now,
        })
        .onConflictDoUpdate({
          target: [authorizers.tenantId, authorizers.appId],
          set: { refreshTokenEnc: this.box.seal(input.refreshToken), permissionSets: input.permissionSets, status: 'AUTHORIZED', updatedAt: now },
        })
        .returning(columns),
    );
    if (!row) throw new Error('authorizer upsert returned no row');
    return row;
  }

  /** From an `unauthorized` push. Returns false when the merchant was unknown. */
  async revoke(ctx: TenantContext, appId: string): Promise<boolean> {
    const rows = await this.written(ctx, (db) =>
      db
        .update(authorizers)
        .set({ status: 'REVOKED', updatedAt: new Date(this.clock.now()) })
        .where(and(eq(authorizers.tenantId, ctx.tenantId), eq(authorizers.appId, appId)))
        .returning(columns),
    );
    return rows.length > 0;
  }
}
