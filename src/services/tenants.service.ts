import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { apiKeys, tenants } from '../db/tables.js';
import { asSystem, inTenant } from '../db/tenant-scope.js';
import type { Clock } from '../lib/clock.js';
import type { SecretBox } from '../lib/secret-box.js';
import { type ApiKeyScope, normalizeScopes, type TenantContext } from './context.js';
import { isUuid } from './cursor.js';
import { DomainError } from './errors.js';

export interface TenantQuotaSettings {
  dailyQuotaPerApp?: number;
  /** null = unlimited */
  dailyQuotaPerTenant?: number | null;
  callsPerSecond?: number;
}

export interface CreateTenantInput extends TenantQuotaSettings {
  name: string;
  componentAppId: string;
  componentAppSecret: string;
  token: string;
  encodingAesKey: string;
}

export interface TenantSummary {
  id: string;
  name: string;
  componentAppId: string;
  dailyQuotaPerApp: number;
  dailyQuotaPerTenant: number | null;
  callsPerSecond: number;
  createdAt: Date;
}

/** What the webhook receiver needs to verify and decrypt a tenant's pushes. */
export interface TenantCrypto {
  tenantId: string;
  componentAppId: string;
  token: string;
  encodingAesKey: string;
}

export interface ApiKeyCreated {
  id: string;
  /** Shown once; only its SHA-256 is stored. */
  key: string;
  prefix: string;
  scopes: ApiKeyScope[];
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

const summaryColumns = {
  id: tenants.id,
  name: tenants.name,
  componentAppId: tenants.componentAppId,
  dailyQuotaPerApp: tenants.dailyQuotaPerApp,
  dailyQuotaPerTenant: tenants.dailyQuotaPerTenant,
  callsPerSecond: tenants.callsPerSecond,
  createdAt: tenants.createdAt,
};

/**
 * Providers and their API keys. Every call runs in its tenant's row-level-security scope; the
 * key lookup and the list of tenants are the only cross-tenant reads (the system scope).
 */
export class TenantsService {
  /** The key lookup runs on every request: built once, prepared on the server. */
  private keyLookup: ReturnType<TenantsService['buildKeyLookup']> | undefined;

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly clock: Clock,
  ) {}

  async create(input: CreateTenantInput): Promise<{ tenant: TenantSummary; apiKey: ApiKeyCreated }> {
    validateQuota(input);
    const aesKey = Buffer.from(`${input.encodingAesKey}=`, 'base64');
    if (input.encodingAesKey.length !== 43 || aesKey.length !== 32) {
      throw new DomainError('INVALID_INPUT', 'encodingAesKey must be the 43-character EncodingAESKey from the Open Platform.');
    }
    // The id is chosen here so the tenant's own scope can create it and its first key in one transaction.
    const id = randomUUID();
    const now = new Date(this.clock.now());
    return inTenant(this.db, id, async (db) => {
      const [row] = await db
        .insert(tenants)
        .values({
          id,
          name: input.name,
          componentAppId: input.componentAppId,
          componentAppSecretEnc: this.box.seal(input.componentAppSecret),
          tokenEnc: this.box.seal(input.token),
          encodingAesKeyEnc: this.box.seal(input.encodingAesKey),
          createdAt: now,
          updatedAt: now,
          ...(input.dailyQuotaPerApp !== undefined && { dailyQuotaPerApp: input.dailyQuotaPerApp }),
          ...(input.dailyQuotaPerTenant !== undefined && { dailyQuotaPerTenant: input.dailyQuotaPerTenant }),
          ...(input.callsPerSecond !== undefined && { callsPerSecond: input.callsPerSecond }),
        })
        .returning(summaryColumns);
      if (!row) throw new Error('tenant insert returned no row');
      const apiKey = await this.createApiKey(row.id, ['write']);
      return { tenant: row, apiKey };
    });
  }

  async update(tenantId: string, settings: TenantQuotaSettings): Promise<TenantSummary> {
    validateQuota(settings);
    if (!isUuid(tenantId)) throw new DomainError('TENANT_NOT_FOUND', `Tenant ${tenantId} does not exist.`);
    const [row] = await inTenant(this.db, tenantId, (db) =>
      db
        .update(tenants)
        .set({ ...settings, updatedAt: new Date(this.clock.now()) })
        .where(eq(tenants.id, tenantId))
        .returning(summaryColumns),
    );
    if (!row) throw new DomainError('TENANT_NOT_FOUND', `Tenant ${tenantId} does not exist.`);
    return row;
  }

  async get(tenantId: string): Promise<TenantSummary | undefined> {
    if (!isUuid(tenantId)) return undefined;
    const [row] = await inTenant(this.db, tenantId, (db) => db.select(summaryColumns).from(tenants).where(eq(tenants.id, tenantId)));
    return row;
  }

  /** For the authenticated tenant itself (the GraphQL `tenant` field, quota settings). */
  async current(ctx: TenantContext): Promise<TenantSummary> {
    const row = await this.get(ctx.tenantId);
    if (!row) throw new DomainError('TENANT_NOT_FOUND');
    return row;
  }

  list(): Promise<TenantSummary[]> {
    return asSystem(this.db, (db) => db.select(summaryColumns).from(tenants).orderBy(asc(tenants.createdAt)));
  }

  async crypto(tenantId: string): Promise<TenantCrypto | undefined> {
    if (!isUuid(tenantId)) return undefined;
    const [row] = await inTenant(this.db, tenantId, (db) =>
      db
        .select({ id: tenants.id, componentAppId: tenants.componentAppId, tokenEnc: tenants.tokenEnc, aes: tenants.encodingAesKeyEnc })
        .from(tenants)
        .where(eq(tenants.id, tenantId)),
    );
    if (!row) return undefined;
    return { tenantId: row.id, componentAppId: row.componentAppId, token: this.box.open(row.tokenEnc), encodingAesKey: this.box.open(row.aes) };
  }

  /** A new key holding `requested` (`write` brings `read` along, see normalizeScopes). */
  async createApiKey(tenantId: string, requested: readonly ApiKeyScope[]): Promise<ApiKeyCreated> {
    const scopes = normalizeScopes(requested);
    if (scopes.length === 0) throw new DomainError('INVALID_INPUT', 'An API key needs at least one scope.');
    const prefix = randomBytes(4).toString('hex');
    const key = `wxl_${prefix}_${randomBytes(24).toString('base64url')}`;
    const [row] = await this.scoped(tenantId, (db) =>
      db
        .insert(apiKeys)
        .values({ tenantId, keyHash: hashApiKey(key), prefix, scopes, createdAt: new Date(this.clock.now()) })
        .returning({ id: apiKeys.id }),
    );
    if (!row) throw new Error('api key insert returned no row');
    return { id: row.id, key, prefix, scopes };
  }

  /** Revokes by key id or display prefix; returns how many keys were revoked. */
  async revokeApiKey(tenantId: string, idOrPrefix: string): Promise<number> {
    const byId = /^[0-9a-f-]{36}$/.test(idOrPrefix) ? eq(apiKeys.id, idOrPrefix) : eq(apiKeys.prefix, idOrPrefix);
    const rows = await this.scoped(tenantId, (db) =>
      db
        .update(apiKeys)
        .set({ revokedAt: new Date(this.clock.now()) })
        .where(and(eq(apiKeys.tenantId, tenantId), byId, isNull(apiKeys.revokedAt)))
        .returning({ id: apiKeys.id }),
    );
    return rows.length;
  }

  listApiKeys(tenantId: string) {
    return this.scoped(tenantId, (db) =>
      db
        .select({ id: apiKeys.id, prefix: apiKeys.prefix, scopes: apiKeys.scopes, createdAt: apiKeys.createdAt, revokedAt: apiKeys.revokedAt })
        .from(apiKeys)
        .where(eq(apiKeys.tenantId, tenantId))
        .orderBy(asc(apiKeys.createdAt)),
    );
  }

  /**
   * The one place an API key becomes a tenant context; undefined for unknown or revoked keys.
   * Cross-tenant by nature (the tenant is what it finds out), so it runs in the system scope.
   */
  async authenticate(key: string): Promise<TenantContext | undefined> {
    if (!key.startsWith('wxl_')) return undefined;
    this.keyLookup ??= this.buildKeyLookup();
    const lookup = this.keyLookup;
    const [row] = await asSystem(this.db, () => lookup.execute({ keyHash: hashApiKey(key) }));
    return row ? { tenantId: row.tenantId, scopes: new Set(row.scopes), apiKeyId: row.id } : undefined;
  }

  /** The tenant's scope, for ids that come from outside (the CLI): a malformed one is a tenant that does not exist. */
  private scoped<T>(tenantId: string, fn: (db: Db) => Promise<T>): Promise<T> {
    if (!isUuid(tenantId)) return Promise.reject(new DomainError('TENANT_NOT_FOUND', `Tenant ${tenantId} does not exist.`));
    return inTenant(this.db, tenantId, fn);
  }

  private buildKeyLookup() {
    return this.db
      .select({ id: apiKeys.id, tenantId: apiKeys.tenantId, scopes: apiKeys.scopes })
      .from(apiKeys)
      .where(and(eq(apiKeys.keyHash, sql.placeholder('keyHash')), isNull(apiKeys.revokedAt)))
      .prepare('api_key_lookup');
  }
}

function validateQuota(s: TenantQuotaSettings): void {
  if (s.dailyQuotaPerApp !== undefined && !(Number.isInteger(s.dailyQuotaPerApp) && s.dailyQuotaPerApp >= 1)) {
    throw new DomainError('INVALID_INPUT', 'dailyQuotaPerApp must be a whole number of at least 1.');
  }
  if (s.dailyQuotaPerTenant != null && !(Number.isInteger(s.dailyQuotaPerTenant) && s.dailyQuotaPerTenant >= 1)) {
    throw new DomainError('INVALID_INPUT', 'dailyQuotaPerTenant must be a whole number of at least 1, or null for unlimited.');
  }
  if (s.callsPerSecond !== undefined && !(Number.isInteger(s.callsPerSecond) && s.callsPerSecond >= 1)) {
    throw new DomainError('INVALID_INPUT', 'callsPerSecond must be a whole number of at least 1.');
  }
}
