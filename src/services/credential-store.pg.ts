import { and, eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { authorizers, componentTickets, tenants } from '../db/tables.js';
import { inTenant } from '../db/tenant-scope.js';
import type { Clock } from '../lib/clock.js';
import type { SecretBox } from '../lib/secret-box.js';
import type { CredentialStore } from '../wechat/tokens/credential-store.js';
import { DomainError } from './errors.js';

/**
 * WeChat credentials kept durably in Postgres, sealed under SECRET_KEY. Refresh tokens live here
 * and not in Redis: losing one (a flushed Redis) would force the merchant to authorize again.
 */
export class PgCredentialStore implements CredentialStore {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly clock: Clock,
  ) {}

  async getComponent(tenantId: string) {
    const [row] = await inTenant(this.db, tenantId, (db) =>
      db.select({ componentAppId: tenants.componentAppId, secret: tenants.componentAppSecretEnc }).from(tenants).where(eq(tenants.id, tenantId)),
    );
    if (!row) throw new DomainError('TENANT_NOT_FOUND', `Tenant ${tenantId} does not exist.`);
    return { componentAppId: row.componentAppId, componentAppSecret: this.box.open(row.secret) };
  }

  async getTicket(tenantId: string): Promise<string | null> {
    const [row] = await inTenant(this.db, tenantId, (db) =>
      db.select({ t: componentTickets.ticketEnc }).from(componentTickets).where(eq(componentTickets.tenantId, tenantId)),
    );
    return row ? this.box.open(row.t) : null;
  }

  async saveTicket(tenantId: string, ticket: string): Promise<void> {
    const ticketEnc = this.box.seal(ticket);
    const updatedAt = new Date(this.clock.now());
    await inTenant(this.db, tenantId, (db) =>
      db
        .insert(componentTickets)
        .values({ tenantId, ticketEnc, updatedAt })
        .onConflictDoUpdate({ target: componentTickets.tenantId, set: { ticketEnc, updatedAt } }),
    );
  }

  async getAuthorizerRefreshToken(tenantId: string, appId: string): Promise<string | null> {
    const [row] = await inTenant(this.db, tenantId, (db) =>
      db
        .select({ t: authorizers.refreshTokenEnc })
        .from(authorizers)
        .where(and(eq(authorizers.tenantId, tenantId), eq(authorizers.appId, appId))),
    );
    return row ? this.box.open(row.t) : null;
  }

  async saveAuthorizerRefreshToken(tenantId: string, appId: string, refreshToken: string): Promise<void> {
    await inTenant(this.db, tenantId, (db) =>
      db
        .update(authorizers)
        .set({ refreshTokenEnc: this.box.seal(refreshToken), updatedAt: new Date(this.clock.now()) })
        .where(and(eq(authorizers.tenantId, tenantId), eq(authorizers.appId, appId))),
    );
  }
}
