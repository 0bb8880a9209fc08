/**
 * The durable credentials the token manager needs, per tenant. Postgres implements it in
 * production (`src/services/credential-store.pg.ts`); tokens themselves live in Redis only.
 */
export interface CredentialStore {
  getComponent(tenantId: string): Promise<{ componentAppId: string; componentAppSecret: string }>;
  /** The latest `component_verify_ticket` WeChat pushed for this tenant's component, if any. */
  getTicket(tenantId: string): Promise<string | null>;
  saveTicket(tenantId: string, ticket: string): Promise<void>;
  getAuthorizerRefreshToken(tenantId: string, appId: string): Promise<string | null>;
  saveAuthorizerRefreshToken(tenantId: string, appId: string, refreshToken: string): Promise<void>;
}
