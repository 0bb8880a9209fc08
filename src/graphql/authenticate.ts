import { createHash } from 'node:crypto';
import type { TenantContext } from '../services/context.js';
import type { TenantsService } from '../services/tenants.service.js';
import { unauthenticated } from './errors.js';

/**
 * The one place a GraphQL request, over HTTP (`Authorization: Bearer <key>`) or WebSocket
 * (`connectionParams.authorization`, with or without "Bearer "), becomes a tenant context.
 * The tenant always comes from the key, never from an argument. Throws UNAUTHENTICATED.
 */
export async function authenticate(tenants: Pick<TenantsService, 'authenticate'>, authorization: unknown, requestId: string): Promise<TenantContext> {
  const key = bearerKey(authorization);
  const tenant = key === undefined ? undefined : await tenants.authenticate(key);
  if (!tenant) throw unauthenticated();
  return { ...tenant, requestId };
}

function bearerKey(authorization: unknown): string | undefined {
  if (typeof authorization !== 'string') return undefined;
  const value = authorization.trim();
  const key = BEARER.test(value) ? value.replace(BEARER, '') : value;
  return key === '' ? undefined : key;
}

const BEARER = /^bearer\s+/i;

type Authenticator = Pick<TenantsService, 'authenticate'>;

/**
 * Remembers successful key lookups for `ttlMs` (keyed by the key's hash, never the key): saves a
 * query per request, at the price of a revoked key working for up to `ttlMs` more. Unknown keys
 * are never remembered. `ttlMs` 0 returns the service itself.
 */
export function cachedAuthenticator(tenants: Authenticator, ttlMs: number, now: () => number = Date.now, maxEntries = 10_000): Authenticator {
  if (ttlMs <= 0) return tenants;
  const cache = new Map<string, { at: number; tenant: Awaited<ReturnType<Authenticator['authenticate']>> }>();
  return {
    async authenticate(key) {
      const id = createHash('sha256').update(key).digest('base64');
      const hit = cache.get(id);
      if (hit && now() - hit.at < ttlMs) return hit.tenant;
      const tenant = await tenants.authenticate(key);
      if (cache.size >= maxEntries) cache.clear();
      if (tenant) cache.set(id, { at: now(), tenant });
      else cache.delete(id);
      return tenant;
    },
  };
}
