/**
 * What an API key may do. `read`: queries and subscriptions; `write`: mutations (keys made with
 * it also read, as every key did before scopes were a set); `token`: the token service and
 * nothing else; `admin`: webhook endpoints and keys. A key holds one or several.
 */
export const API_KEY_SCOPES = ['read', 'write', 'token', 'admin'] as const;

export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/**
 * Who is asking. Built in one place per entry point (HTTP, WebSocket, jobs, webhooks) and passed
 * first to every service call; services take the tenant from here, never from arguments.
 */
export interface TenantContext {
  tenantId: string;
  scopes: ReadonlySet<ApiKeyScope>;
  /** The API key the request authenticated with (labels metrics; the key itself is never kept). Absent for system callers. */
  apiKeyId?: string;
  /** Correlates log lines of one request or job. */
  requestId?: string;
}

const EVERY_SCOPE: ReadonlySet<ApiKeyScope> = new Set(API_KEY_SCOPES);

/** For trusted internal callers (workers, webhook handlers) acting for a tenant: every scope. */
export function systemContext(tenantId: string, requestId?: string): TenantContext {
  return requestId === undefined ? { tenantId, scopes: EVERY_SCOPE } : { tenantId, scopes: EVERY_SCOPE, requestId };
}

export function isApiKeyScope(value: string): value is ApiKeyScope {
  return (API_KEY_SCOPES as readonly string[]).includes(value);
}

/**
 * The scopes a new key is stored with, in vocabulary order and without repeats. `write` brings
 * `read` along, so a write key keeps reading as it always has.
 */
export function normalizeScopes(scopes: readonly ApiKeyScope[]): ApiKeyScope[] {
  const wanted = new Set(scopes);
  if (wanted.has('write')) wanted.add('read');
  return API_KEY_SCOPES.filter((s) => wanted.has(s));
}
