import { createHash, randomBytes } from 'node:crypto';
import { and, asc, eq, isNull, lte, or, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { apiKeys, tenants } from '../../db/tables.js';
import { asSystem, inTenant } from '../../db/tenant-scope.js';
import type { Clock } from '../../lib/clock.js';
import { type ApiKeyScope, isApiKeyScope, normalizeScopes, type TenantContext } from '../context.js';
import { isUuid } from '../cursor.js';
import { DomainError, type UserError, userError } from '../errors.js';
import type { ApiKeyInvalidation, ApiKeyInvalidations } from '../ports.js';
import { ApiKeyCache, type CachedKey } from './api-key-cache.js';

/** `lastUsedAt` is written when the stored value is at least this old: once a minute per key, not per request. */
export const LAST_USED_RESOLUTION_MS = 60_000;
const MAX_NAME_LENGTH = 100;

/** A key as its tenant's admins see it: never the key, never its hash. */
export interface ApiKeyView {
  id: string;
  name: string | null;
  /** The 8 hex characters after `wxl_`, to recognise a key by. */
  prefix: string;
  scopes: ApiKeyScope[];
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface CreateApiKeyInput {
  /** Scope names; checked here (the GraphQL input takes strings). */
  scopes: readonly string[];
  /** null or absent: never expires (the operator CLI allows it; the GraphQL input requires a date). */
  expiresAt?: Date | null;
  name?: string | null;
}

export type CreateApiKeyResult =
  | { apiKey: ApiKeyView /** Shown once; only its SHA-256 is stored. */; key: string; userErrors: [] }
  | { apiKey: null; key: null; userErrors: UserError[] };

export type RevokeApiKeyResult = { apiKey: ApiKeyView | null; userErrors: UserError[] };

/** The tenant's per-key rate limit; null: the configured default. */
export interface RateLimitSetting {
  perSecond: number | null;
  burst: number | null;
}

export type KeyCheck =
  | { kind: 'valid'; tenant: TenantContext; rateLimit: RateLimitSetting }
  | { kind: 'expired'; expiredAt: Date }
  /** Unknown, malformed or revoked: the caller says no more than "not a valid key". */
  | { kind: 'unknown' };

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

const view = {
  id: apiKeys.id,
  name: apiKeys.name,
  prefix: apiKeys.prefix,
  scopes: apiKeys.scopes,
  createdAt: apiKeys.createdAt,
  expiresAt: apiKeys.expiresAt,
  lastUsedAt: apiKeys.lastUsedAt,
  revokedAt: apiKeys.revokedAt,
};

export interface ApiKeysServiceDeps {
  db: Db;
  clock: Clock;
  /** Remember valid keys this long in process (0: look every request's key up). */
  cacheTtlMs?: number;
  /** Tells other instances to forget revoked keys; absent: this process only (CLI without Redis, tests). */
  invalidations?: ApiKeyInvalidations;
}

/**
 * API keys: made, listed and revoked by a tenant's admin keys (or the operator's CLI, with a
 * system context naming the tenant), and checked on every request. Every call is scoped to the
 * context's tenant, so a key only ever sees or revokes keys of its own tenant; row-level security
 * stands behind it. The check is the one cross-tenant read (the tenant is what it finds out).
 */
export class ApiKeysService {
  private readonly cache: ApiKeyCache;
  private keyLookup: ReturnType<ApiKeysService['buildKeyLookup']> | undefined;

  constructor(private readonly deps: ApiKeysServiceDeps) {
    this.cache = new ApiKeyCache(deps.cacheTtlMs ?? 0);
  }

  list(ctx: TenantContext): Promise<ApiKeyView[]> {
    return this.scoped(ctx, (db) => db.select(view).from(apiKeys).where(eq(apiKeys.tenantId, ctx.tenantId)).orderBy(asc(apiKeys.createdAt), asc(apiKeys.id)));
  }

  /** A new key holding `input.scopes` (`write` brings `read` along, see normalizeScopes). */
  async create(ctx: TenantContext, input: CreateApiKeyInput): Promise<CreateApiKeyResult> {
    const now = this.deps.clock.now();
    const problems: UserError[] = [];
    const unknown = input.scopes.filter((s) => !isApiKeyScope(s));
    if (unknown.length > 0)
      problems.push(userError('INVALID_INPUT', `Unknown scope ${unknown.join(', ')}; use read, write, token or admin.`, ['input', 'scopes']));
    const scopes = normalizeScopes(input.scopes.filter(isApiKeyScope));
    if (unknown.length === 0 && scopes.length === 0) problems.push(userError('INVALID_INPUT', 'An API key needs at least one scope.', ['input', 'scopes']));
    if (input.expiresAt != null && !(input.expiresAt.getTime() > now)) {
      problems.push(userError('INVALID_INPUT', `expiresAt ${input.expiresAt.toISOString()} is not in the future.`, ['input', 'expiresAt']));
    }
    const name = input.name?.trim() || null;
    if (name !== null && name.length > MAX_NAME_LENGTH)
      problems.push(userError('INVALID_INPUT', `A name has at most ${MAX_NAME_LENGTH} characters.`, ['input', 'name']));
    if (problems.length > 0) return { apiKey: null, key: null, userErrors: problems };
    const prefix = randomBytes(4).toString('hex');
    const key = `wxl_${prefix}_${randomBytes(24).toString('base64url')}`;
    const [row] = await this.scoped(ctx, (db) =>
      db
        .insert(apiKeys)
        .values({ tenantId: ctx.tenantId, keyHash: hashApiKey(key), prefix, scopes, name, createdAt: new Date(now), expiresAt: input.expiresAt ?? null })
        .returning(view),
    );
    if (!row) throw new Error('api key insert returned no row');
    return { apiKey: row, key, userErrors: [] };
  }

  /**
   * Revokes one key of the context's tenant by id; an already revoked key is answered as it is.
   * Every instance forgets it before the answer is sent (this one at once, the others over pub/sub).
   */
  async revoke(ctx: TenantContext, id: string): Promise<RevokeApiKeyResult> {
    const notFound = { apiKey: null, userErrors: [userError('NOT_FOUND', 'No such API key for this tenant.', ['id'])] };
    if (!isUuid(id)) return notFound;
    const row = await this.scoped(ctx, async (db) => {
      const [revoked] = await db
        .update(apiKeys)
        .set({ revokedAt: new Date(this.deps.clock.now()) })
        .where(and(eq(apiKeys.tenantId, ctx.tenantId), eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
        .returning(view);
      if (revoked) return revoked;
      const [existing] = await db
        .select(view)
        .from(apiKeys)
        .where(and(eq(apiKeys.tenantId, ctx.tenantId), eq(apiKeys.id, id)));
      return existing;
    });
    if (!row) return notFound;
    await this.invalidate({ keyIds: [row.id] });
    return { apiKey: row, userErrors: [] };
  }

  /** Revokes the active keys of the tenant shown by `prefix` (the CLI's way to name a key); returns them. */
  async revokeByPrefix(ctx: TenantContext, prefix: string): Promise<ApiKeyView[]> {
    const rows = await this.scoped(ctx, (db) =>
      db
        .update(apiKeys)
        .set({ revokedAt: new Date(this.deps.clock.now()) })
        .where(and(eq(apiKeys.tenantId, ctx.tenantId), eq(apiKeys.prefix, prefix), isNull(apiKeys.revokedAt)))
        .returning(view),
    );
    if (rows.length > 0) await this.invalidate({ keyIds: rows.map((r) => r.id) });
    return rows;
  }

  /** A tenant's settings that travel with its keys (rate limits) changed: every instance reads them again. */
  tenantChanged(tenantId: string): Promise<void> {
    return this.invalidate({ tenantId });
  }

  /** Another instance's invalidation, heard over pub/sub (or `'all'` after a resubscribe, when messages may have been missed). */
  forget(invalidation: ApiKeyInvalidation | 'all'): void {
    if (invalidation === 'all') this.cache.clear();
    else if ('keyIds' in invalidation) this.cache.dropKeys(invalidation.keyIds);
    else this.cache.dropTenant(invalidation.tenantId);
  }

  /**
   * The one place a key becomes a tenant context. Expiry is checked on every call (cached or
   * not); `lastUsedAt` is written when the value this process knows is a minute old, with a
   * conditional UPDATE, so several instances still write a key's row at most once a minute.
   */
  async verify(key: string): Promise<KeyCheck> {
    if (!key.startsWith('wxl_') || key.length > 200) return { kind: 'unknown' };
    const hash = hashApiKey(key);
    const now = this.deps.clock.now();
    let found = this.cache.get(hash, now);
    if (!found) {
      found = await this.lookup(hash);
      if (!found) return { kind: 'unknown' };
      this.cache.set(hash, found, now);
    }
    if (found.expiresAt !== null && found.expiresAt <= now) return { kind: 'expired', expiredAt: new Date(found.expiresAt) };
    if (found.lastUsedAt === null || now - found.lastUsedAt >= LAST_USED_RESOLUTION_MS) {
      found.lastUsedAt = now;
      await this.touch(found, now);
    }
    return { kind: 'valid', tenant: { tenantId: found.tenantId, scopes: new Set(found.scopes), apiKeyId: found.id }, rateLimit: found.rateLimit };
  }

  private async lookup(keyHash: string): Promise<CachedKey | undefined> {
    this.keyLookup ??= this.buildKeyLookup();
    const lookup = this.keyLookup;
    const [row] = await asSystem(this.deps.db, () => lookup.execute({ keyHash }));
    if (!row) return undefined;
    return {
      id: row.id,
      tenantId: row.tenantId,
      scopes: row.scopes,
      expiresAt: row.expiresAt?.getTime() ?? null,
      lastUsedAt: row.lastUsedAt?.getTime() ?? null,
      rateLimit: { perSecond: row.perSecond, burst: row.burst },
    };
  }

  private touch(found: CachedKey, now: number): Promise<unknown> {
    const at = new Date(now);
    const staleBefore = new Date(now - LAST_USED_RESOLUTION_MS);
    return inTenant(this.deps.db, found.tenantId, (db) =>
      db
        .update(apiKeys)
        .set({ lastUsedAt: at })
        .where(and(eq(apiKeys.id, found.id), or(isNull(apiKeys.lastUsedAt), lte(apiKeys.lastUsedAt, staleBefore)))),
    );
  }

  private async invalidate(invalidation: ApiKeyInvalidation): Promise<void> {
    this.forget(invalidation);
    await this.deps.invalidations?.publish(invalidation);
  }

  /** The tenant's scope, for ids that come from outside (the CLI): a malformed one is a tenant that does not exist. */
  private scoped<T>(ctx: TenantContext, fn: (db: Db) => Promise<T>): Promise<T> {
    if (!isUuid(ctx.tenantId)) return Promise.reject(new DomainError('TENANT_NOT_FOUND', `Tenant ${ctx.tenantId} does not exist.`));
    return inTenant(this.deps.db, ctx.tenantId, fn);
  }

  /** Runs on every request whose key is not cached: built once, prepared on the server. */
  private buildKeyLookup() {
    return this.deps.db
      .select({
        id: apiKeys.id,
        tenantId: apiKeys.tenantId,
        scopes: apiKeys.scopes,
        expiresAt: apiKeys.expiresAt,
        lastUsedAt: apiKeys.lastUsedAt,
        perSecond: tenants.rateLimitPerSecond,
        burst: tenants.rateLimitBurst,
      })
      .from(apiKeys)
      .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
      .where(and(eq(apiKeys.keyHash, sql.placeholder('keyHash')), isNull(apiKeys.revokedAt)))
      .prepare('api_key_lookup');
  }
}
