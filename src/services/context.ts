/**
 * Who is asking. Built in one place per entry point (HTTP, WebSocket, jobs, webhooks) and passed
 * first to every service call; services take the tenant from here, never from arguments.
 */
export interface TenantContext {
  tenantId: string;
  scope: 'read' | 'write';
  /** Correlates log lines of one request or job. */
  requestId?: string;
}

/** For trusted internal callers (workers, webhook handlers) acting for a tenant. */
export function systemContext(tenantId: string, requestId?: string): TenantContext {
  return requestId === undefined ? { tenantId, scope: 'write' } : { tenantId, scope: 'write', requestId };
}
