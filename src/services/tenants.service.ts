import { randomUUID } from 'node:crypto';
import { asc, eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { tenants } from '../db/tables.js';
import { asSystem, inTenant } from '../db/tenant-scope.js';
import type { Clock } from '../lib/clock.js';
import type { SecretBox } from '../lib/secret-box.js';
import { ApiKeysService, type ApiKeyView, hashApiKey } from './api-keys/api-keys.service.js';
import { type ApiKeyScope, systemContext, type TenantContext } from './context.js';
import { isUuid } from './cursor.js';
import { DomainError, ERROR_CODES, type UserError, userError } from './errors.js';

export interface TenantQuotaSettings {
  dailyQuotaPerApp?: number;
  /** null = unlimited */
  dailyQuotaPerTenant?: number | null;
  callsPerSecond?: number;
  /** GraphQL requests per second per API key; null: RATE_LIMIT_PER_SECOND. */
  rateLimitPerSecond?: number | null;
  /** Token bucket size per API key; null: RATE_LIMIT_BURST. */
  rateLimitBurst?: number | null;
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
  /** null: the configured default. */
  rateLimitPerSecond: number | null;
  rateLimitBurst: number | null;
  createdAt: Date;
}

/** What the webhook receiver needs to verify and decrypt a tenant's pushes. */
export interface TenantCrypto {
  tenantId: string;
  componentAppId: string;
  token: string;
  encodingAesKey: string;
  /** The token and key before the last change, accepted too until `until` (ms since the epoch); absent once that passed. */
  previous?: { token: string; encodingAesKey: string; until: number };
}

/** New values from the Open Platform console; the ones omitted stay as they are. */
export interface TenantCredentialsInput {
  token?: string | undefined;
  encodingAesKey?: string | undefined;
  componentAppSecret?: string | undefined;
}

export interface TenantCredentialsResult {
  tenant: TenantSummary | null;
  /** Until when pushes under the previous token or EncodingAESKey are still accepted; null when neither changed. */
  previousAcceptedUntil: Date | null;
  userErrors: UserError[];
}

/** Told after a tenant's component app secret changed, so the component token is fetched again with the new one. */
export type OnComponentSecretChanged = (tenantId: string, componentAppId: string) => Promise<void>;

export interface TenantsServiceOptions {
  /** CREDENTIAL_OVERLAP_MINUTES in ms: how long the previous token and EncodingAESKey keep verifying; default 60 min. */
  credentialOverlapMs?: number;
  onComponentSecretChanged?: OnComponentSecretChanged;
}

export const DEFAULT_CREDENTIAL_OVERLAP_MS = 60 * 60_000;

// WeChat's console: the token is 3-32 letters and digits; the EncodingAESKey 43 base64 characters (32 bytes).
const TOKEN = /^[A-Za-z0-9]{3,32}$/;
const ENCODING_AES_KEY = /^[A-Za-z0-9+/]{43}$/;

export interface ApiKeyCreated {
  id: string;
  /** Shown once; only its SHA-256 is stored. */
  key: string;
  prefix: string;
  scopes: ApiKeyScope[];
}

export { hashApiKey };

const summaryColumns = {
  id: tenants.id,
  name: tenants.name,
  componentAppId: tenants.componentAppId,
  dailyQuotaPerApp: tenants.dailyQuotaPerApp,
  dailyQuotaPerTenant: tenants.dailyQuotaPerTenant,
  callsPerSecond: tenants.callsPerSecond,
  rateLimitPerSecond: tenants.rateLimitPerSecond,
  rateLimitBurst: tenants.rateLimitBurst,
  createdAt: tenants.createdAt,
};

/**
 * Providers and their API keys. Every call runs in its tenant's row-level-security scope; the
 * key lookup and the list of tenants are the only cross-tenant reads (the system scope).
 */
export class TenantsService {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly clock: Clock,
    /** The keys themselves (lookups, their cache and its invalidation); a bare one by default (tests, tools). */
    readonly keys: ApiKeysService = new ApiKeysService({ db, clock }),
    private readonly options: TenantsServiceOptions = {},
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
          ...(input.rateLimitPerSecond !== undefined && { rateLimitPerSecond: input.rateLimitPerSecond }),
          ...(input.rateLimitBurst !== undefined && { rateLimitBurst: input.rateLimitBurst }),
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
    // The rate limit travels with each cached key: every instance reads it again.
    if (settings.rateLimitPerSecond !== undefined || settings.rateLimitBurst !== undefined) await this.keys.tenantChanged(tenantId);
    return row;
  }

  /**
   * Rotates the message token, EncodingAESKey and/or component app secret (admin keys, `wxlive
   * tenant update`). The token and key replaced stay accepted for the overlap window: the provider
   * changes them here and in the Open Platform console, and WeChat switches at its own moment. A
   * second change inside the window keeps only the values it replaced. After a new app secret the
   * cached component token is dropped, so the next call fetches one with the new secret.
   */
  async updateCredentials(ctx: TenantContext, input: TenantCredentialsInput): Promise<TenantCredentialsResult> {
    const problems = credentialProblems(input);
    if (problems.length > 0) return { tenant: null, previousAcceptedUntil: null, userErrors: problems };
    const tenantId = ctx.tenantId;
    if (!isUuid(tenantId))
      return { tenant: null, previousAcceptedUntil: null, userErrors: [userError('TENANT_NOT_FOUND', `Tenant ${tenantId} does not exist.`)] };
    const now = this.clock.now();
    const changed = await inTenant(this.db, tenantId, async (db) => {
      const [current] = await db
        .select({ tokenEnc: tenants.tokenEnc, aesEnc: tenants.encodingAesKeyEnc, secretEnc: tenants.componentAppSecretEnc })
        .from(tenants)
        .where(eq(tenants.id, tenantId))
        .for('update');
      if (!current) return undefined;
      const tokenChanged = input.token !== undefined && input.token !== this.box.open(current.tokenEnc);
      const aesChanged = input.encodingAesKey !== undefined && input.encodingAesKey !== this.box.open(current.aesEnc);
      const secretChanged = input.componentAppSecret !== undefined && input.componentAppSecret !== this.box.open(current.secretEnc);
      const until = tokenChanged || aesChanged ? new Date(now + (this.options.credentialOverlapMs ?? DEFAULT_CREDENTIAL_OVERLAP_MS)) : null;
      const [row] = await db
        .update(tenants)
        .set({
          ...(tokenChanged && input.token !== undefined && { tokenEnc: this.box.seal(input.token) }),
          ...(aesChanged && input.encodingAesKey !== undefined && { encodingAesKeyEnc: this.box.seal(input.encodingAesKey) }),
          ...(secretChanged && input.componentAppSecret !== undefined && { componentAppSecretEnc: this.box.seal(input.componentAppSecret) }),
          // Both previous values are kept as a pair (the unchanged one equals the current), sealed as they were.
          ...(until !== null && { previousTokenEnc: current.tokenEnc, previousEncodingAesKeyEnc: current.aesEnc, previousCredentialsUntil: until }),
          updatedAt: new Date(now),
        })
        .where(eq(tenants.id, tenantId))
        .returning(summaryColumns);
      return row && { row, until, secretChanged };
    });
    if (!changed) return { tenant: null, previousAcceptedUntil: null, userErrors: [userError('TENANT_NOT_FOUND', `Tenant ${tenantId} does not exist.`)] };
    if (changed.secretChanged) await this.options.onComponentSecretChanged?.(tenantId, changed.row.componentAppId);
    return { tenant: changed.row, previousAcceptedUntil: changed.until, userErrors: [] };
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
        .select({
          id: tenants.id,
          componentAppId: tenants.componentAppId,
          tokenEnc: tenants.tokenEnc,
          aes: tenants.encodingAesKeyEnc,
          previousTokenEnc: tenants.previousTokenEnc,
          previousAes: tenants.previousEncodingAesKeyEnc,
          previousUntil: tenants.previousCredentialsUntil,
        })
        .from(tenants)
        .where(eq(tenants.id, tenantId)),
    );
    if (!row) return undefined;
    const found: TenantCrypto = {
      tenantId: row.id,
      componentAppId: row.componentAppId,
      token: this.box.open(row.tokenEnc),
      encodingAesKey: this.box.open(row.aes),
    };
    const until = row.previousUntil?.getTime();
    if (until !== undefined && until > this.clock.now() && row.previousTokenEnc !== null && row.previousAes !== null) {
      found.previous = { token: this.box.open(row.previousTokenEnc), encodingAesKey: this.box.open(row.previousAes), until };
    }
    return found;
  }

  /** The operator's way in (CLI, tenant create): a key for `tenantId`, never expiring unless `expiresAt`. */
  async createApiKey(
    tenantId: string,
    requested: readonly ApiKeyScope[],
    options: { expiresAt?: Date | null; name?: string | null } = {},
  ): Promise<ApiKeyCreated> {
    const result = await this.keys.create(systemContext(tenantId), { scopes: requested, ...options });
    if (!result.apiKey) {
      const code = result.userErrors[0]?.code ?? 'INVALID_INPUT';
      // The userError's message ends with the code's advice, which DomainError appends itself.
      throw new DomainError(code, result.userErrors[0]?.message.replace(ERROR_CODES[code], '').trim());
    }
    return { id: result.apiKey.id, key: result.key, prefix: result.apiKey.prefix, scopes: result.apiKey.scopes };
  }

  /** Revokes by key id or display prefix; returns how many keys were revoked. */
  async revokeApiKey(tenantId: string, idOrPrefix: string): Promise<number> {
    const ctx = systemContext(tenantId);
    if (isUuid(idOrPrefix)) {
      const before = await this.keys.list(ctx);
      if (!before.some((k) => k.id === idOrPrefix && k.revokedAt === null)) return 0;
      return (await this.keys.revoke(ctx, idOrPrefix)).apiKey ? 1 : 0;
    }
    return (await this.keys.revokeByPrefix(ctx, idOrPrefix)).length;
  }

  listApiKeys(tenantId: string): Promise<ApiKeyView[]> {
    return this.keys.list(systemContext(tenantId));
  }

  /** A valid key's tenant context; undefined for unknown, revoked or expired keys (see ApiKeysService.verify). */
  async authenticate(key: string): Promise<TenantContext | undefined> {
    const check = await this.keys.verify(key);
    return check.kind === 'valid' ? check.tenant : undefined;
  }
}

function credentialProblems(input: TenantCredentialsInput): UserError[] {
  const problems: UserError[] = [];
  if (input.token === undefined && input.encodingAesKey === undefined && input.componentAppSecret === undefined) {
    problems.push(userError('INVALID_INPUT', 'Give at least one of token, encodingAesKey, componentAppSecret.'));
  }
  if (input.token !== undefined && !TOKEN.test(input.token)) {
    problems.push(userError('INVALID_INPUT', 'token must be 3 to 32 letters and digits, as the Open Platform console shows it.', ['input', 'token']));
  }
  if (input.encodingAesKey !== undefined && !(ENCODING_AES_KEY.test(input.encodingAesKey) && Buffer.from(`${input.encodingAesKey}=`, 'base64').length === 32)) {
    problems.push(
      userError('INVALID_INPUT', 'encodingAesKey must be the 43-character EncodingAESKey from the Open Platform (base64 of 32 bytes).', [
        'input',
        'encodingAesKey',
      ]),
    );
  }
  if (input.componentAppSecret !== undefined && !/^\S{1,128}$/.test(input.componentAppSecret)) {
    problems.push(
      userError('INVALID_INPUT', 'componentAppSecret must be the AppSecret from the Open Platform console (no spaces).', ['input', 'componentAppSecret']),
    );
  }
  return problems;
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
  for (const [name, value] of [
    ['rateLimitPerSecond', s.rateLimitPerSecond],
    ['rateLimitBurst', s.rateLimitBurst],
  ] as const) {
    if (value != null && !(Number.isInteger(value) && value >= 1)) {
      throw new DomainError('INVALID_INPUT', `${name} must be a whole number of at least 1, or null for the configured default.`);
    }
  }
}
