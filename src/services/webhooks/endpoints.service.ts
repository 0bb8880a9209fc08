import { and, desc, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { type WebhookEndpointKind, webhookEndpoints } from '../../db/tables.js';
import { inTenant } from '../../db/tenant-scope.js';
import type { Clock } from '../../lib/clock.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { TenantContext } from '../context.js';
import { isUuid } from '../cursor.js';
import { type UserError, userError } from '../errors.js';
import { endpointView, OUTBOUND_EVENT_TYPES, type WebhookEndpointView } from './endpoint.row.js';
import { newWebhookSecret, PREVIOUS_SECRET_GRACE_MS } from './signing.js';
import { type Lookup, type UrlPolicy, urlNotAllowed } from './url-policy.js';

export const MAX_ENDPOINTS_PER_TENANT = 20;
const MAX_FILTER_TYPES = 50;
// WeChat's InfoType / MsgType / Event names, and ours (application.updated).
const TYPE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export interface CreateEndpointInput {
  url: string;
  kind: WebhookEndpointKind;
  events?: readonly string[] | null;
}

export interface UpdateEndpointInput {
  id: string;
  url?: string | null;
  events?: readonly string[] | null;
  enabled?: boolean | null;
}

export type EndpointResult = { endpoint: WebhookEndpointView | null; userErrors: UserError[] };
export type EndpointWithSecret = EndpointResult & { secret: string | null };

export interface EndpointsServiceDeps {
  db: Db;
  box: SecretBox;
  clock: Clock;
  urlPolicy: UrlPolicy;
  /** DNS for the URL check (tests give a fixed table). */
  lookup?: Lookup;
}

/**
 * A tenant's outbound webhook endpoints (admin scope). Secrets are made here, sealed, and shown
 * once: in the answer to create and to rotate.
 */
export class WebhookEndpointsService {
  constructor(private readonly deps: EndpointsServiceDeps) {}

  list(ctx: TenantContext): Promise<WebhookEndpointView[]> {
    return inTenant(this.deps.db, ctx.tenantId, (db) =>
      db
        .select(endpointView)
        .from(webhookEndpoints)
        .where(eq(webhookEndpoints.tenantId, ctx.tenantId))
        .orderBy(desc(webhookEndpoints.createdAt), desc(webhookEndpoints.id)),
    );
  }

  async create(ctx: TenantContext, input: CreateEndpointInput): Promise<EndpointWithSecret> {
    const problems = [...(await this.checkUrl(input.url, ['input', 'url'])), ...checkFilter(input.kind, input.events, ['input', 'events'])];
    if (problems.length > 0) return { endpoint: null, secret: null, userErrors: problems };
    const secret = newWebhookSecret();
    const now = new Date(this.deps.clock.now());
    const created = await inTenant(this.deps.db, ctx.tenantId, async (db) => {
      const [count] = await db.select({ n: sql<number>`count(*)::int` }).from(webhookEndpoints).where(eq(webhookEndpoints.tenantId, ctx.tenantId));
      if ((count?.n ?? 0) >= MAX_ENDPOINTS_PER_TENANT) return undefined;
      const [row] = await db
        .insert(webhookEndpoints)
        .values({
          tenantId: ctx.tenantId,
          url: input.url,
          kind: input.kind,
          events: normalizeFilter(input.events),
          secretEnc: this.deps.box.seal(secret),
          createdAt: now,
          updatedAt: now,
        })
        .returning(endpointView);
      return row;
    });
    if (!created) {
      return {
        endpoint: null,
        secret: null,
        userErrors: [userError('INVALID_INPUT', `A tenant has at most ${MAX_ENDPOINTS_PER_TENANT} endpoints; delete one first.`)],
      };
    }
    return { endpoint: created, secret, userErrors: [] };
  }

  async update(ctx: TenantContext, input: UpdateEndpointInput): Promise<EndpointResult> {
    const current = await this.get(ctx, input.id);
    if (!current) return { endpoint: null, userErrors: [userError('NOT_FOUND', 'No such webhook endpoint.', ['input', 'id'])] };
    const problems = [
      ...(input.url == null ? [] : await this.checkUrl(input.url, ['input', 'url'])),
      ...(input.events === undefined ? [] : checkFilter(current.kind, input.events, ['input', 'events'])),
    ];
    if (problems.length > 0) return { endpoint: null, userErrors: problems };
    const [row] = await inTenant(this.deps.db, ctx.tenantId, (db) =>
      db
        .update(webhookEndpoints)
        .set({
          ...(input.url == null ? {} : { url: input.url }),
          ...(input.events === undefined ? {} : { events: normalizeFilter(input.events) }),
          // Enabling again clears the gateway's reason and the failure run it was counting.
          ...(input.enabled == null ? {} : { enabled: input.enabled, disabledReason: null, failingSince: null }),
          updatedAt: new Date(this.deps.clock.now()),
        })
        .where(and(eq(webhookEndpoints.tenantId, ctx.tenantId), eq(webhookEndpoints.id, input.id)))
        .returning(endpointView),
    );
    return row ? { endpoint: row, userErrors: [] } : { endpoint: null, userErrors: [userError('NOT_FOUND', 'No such webhook endpoint.', ['id'])] };
  }

  /** Deletes the endpoint and its delivery log; false when there was none. */
  async delete(ctx: TenantContext, id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const rows = await inTenant(this.deps.db, ctx.tenantId, (db) =>
      db
        .delete(webhookEndpoints)
        .where(and(eq(webhookEndpoints.tenantId, ctx.tenantId), eq(webhookEndpoints.id, id)))
        .returning({ id: webhookEndpoints.id }),
    );
    return rows.length > 0;
  }

  /** A new secret, shown once; the one it replaces keeps signing for 24 hours. */
  async rotateSecret(ctx: TenantContext, id: string): Promise<EndpointWithSecret> {
    if (!isUuid(id)) return { endpoint: null, secret: null, userErrors: [userError('NOT_FOUND', 'No such webhook endpoint.', ['id'])] };
    const secret = newWebhookSecret();
    const now = this.deps.clock.now();
    const [row] = await inTenant(this.deps.db, ctx.tenantId, (db) =>
      db
        .update(webhookEndpoints)
        .set({
          previousSecretEnc: sql`${webhookEndpoints.secretEnc}`,
          previousSecretExpiresAt: new Date(now + PREVIOUS_SECRET_GRACE_MS),
          secretEnc: this.deps.box.seal(secret),
          updatedAt: new Date(now),
        })
        .where(and(eq(webhookEndpoints.tenantId, ctx.tenantId), eq(webhookEndpoints.id, id)))
        .returning(endpointView),
    );
    return row
      ? { endpoint: row, secret, userErrors: [] }
      : { endpoint: null, secret: null, userErrors: [userError('NOT_FOUND', 'No such webhook endpoint.', ['id'])] };
  }

  async get(ctx: TenantContext, id: string): Promise<WebhookEndpointView | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await inTenant(this.deps.db, ctx.tenantId, (db) =>
      db
        .select(endpointView)
        .from(webhookEndpoints)
        .where(and(eq(webhookEndpoints.tenantId, ctx.tenantId), eq(webhookEndpoints.id, id))),
    );
    return row;
  }

  private async checkUrl(url: string, field: string[]): Promise<UserError[]> {
    const why = await urlNotAllowed(url, this.deps.urlPolicy, this.deps.lookup);
    return why === undefined ? [] : [userError('WEBHOOK_URL_NOT_ALLOWED', why, field)];
  }
}

function checkFilter(kind: WebhookEndpointKind, events: readonly string[] | null | undefined, field: string[]): UserError[] {
  if (events == null) return [];
  if (events.length > MAX_FILTER_TYPES) return [userError('INVALID_INPUT', `At most ${MAX_FILTER_TYPES} types in events.`, field)];
  const known: readonly string[] = OUTBOUND_EVENT_TYPES;
  const bad = events.find((e) => e !== '*' && (!TYPE_NAME.test(e) || (kind === 'EVENTS' && !known.includes(e))));
  if (bad === undefined) return [];
  const expected = kind === 'EVENTS' ? `one of ${OUTBOUND_EVENT_TYPES.join(', ')} or *` : 'an InfoType, MsgType or Event name (letters, digits, _ . -) or *';
  return [userError('INVALID_INPUT', `"${bad.slice(0, 64)}" is not ${expected}.`, field)];
}

/** null for "everything" (null, [] or a list with `*`), else the types without repeats. */
function normalizeFilter(events: readonly string[] | null | undefined): string[] | null {
  if (events == null || events.length === 0 || events.includes('*')) return null;
  return [...new Set(events)];
}
