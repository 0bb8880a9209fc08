import type { CredentialStore } from '../../../src/wechat/tokens/credential-store.js';

/** An in-memory CredentialStore: stands in for the store interface (not for Postgres) in wechat tests. */
export class MemoryCredentialStore implements CredentialStore {
  readonly components = new Map<string, { componentAppId: string; componentAppSecret: string }>();
  readonly tickets = new Map<string, string>();
  readonly refreshTokens = new Map<string, string>();
  /** Every saveAuthorizerRefreshToken call, in order, to assert rotations were kept. */
  readonly savedRefreshTokens: { tenantId: string; appId: string; refreshToken: string }[] = [];

  addTenant(tenantId: string, componentAppId: string, componentAppSecret: string): void {
    this.components.set(tenantId, { componentAppId, componentAppSecret });
  }

  async getComponent(tenantId: string) {
    const component = this.components.get(tenantId);
    if (!component) throw new Error(`unknown tenant ${tenantId}`);
    return component;
  }

  async getTicket(tenantId: string): Promise<string | null> {
    return this.tickets.get(tenantId) ?? null;
  }

  async saveTicket(tenantId: string, ticket: string): Promise<void> {
    this.tickets.set(tenantId, ticket);
  }

  async getAuthorizerRefreshToken(tenantId: string, appId: string): Promise<string | null> {
    return this.refreshTokens.get(`${tenantId}/${appId}`) ?? null;
  }

  async saveAuthorizerRefreshToken(tenantId: string, appId: string, refreshToken: string): Promise<void> {
    this.refreshTokens.set(`${tenantId}/${appId}`, refreshToken);
    this.savedRefreshTokens.push({ tenantId, appId, refreshToken });
  }
}
