import type { KeyCheck, RateLimitSetting } from '../services/api-keys/api-keys.service.js';
import type { TenantContext } from '../services/context.js';
import { expiredKey, unauthenticated } from './errors.js';

/** What checks keys: `ApiKeysService` (its cache included). */
export interface Authenticator {
  verify(key: string): Promise<KeyCheck>;
}

export interface Authenticated {
  tenant: TenantContext;
  rateLimit: RateLimitSetting;
}

/**
 * The one place a GraphQL request, over HTTP (`Authorization: Bearer <key>`) or WebSocket
 * (`connectionParams.authorization`, with or without "Bearer "), becomes a tenant context.
 * The tenant always comes from the key, never from an argument. Throws UNAUTHENTICATED, saying
 * so when the key has expired.
 */
export async function authenticateKey(authenticator: Authenticator, authorization: unknown, requestId: string): Promise<Authenticated> {
  const key = bearerKey(authorization);
  const check: KeyCheck = key === undefined ? { kind: 'unknown' } : await authenticator.verify(key);
  if (check.kind === 'expired') throw expiredKey(check.expiredAt);
  if (check.kind !== 'valid') throw unauthenticated();
  return { tenant: { ...check.tenant, requestId }, rateLimit: check.rateLimit };
}

/** `authenticateKey` when only the tenant matters. */
export async function authenticate(authenticator: Authenticator, authorization: unknown, requestId: string): Promise<TenantContext> {
  return (await authenticateKey(authenticator, authorization, requestId)).tenant;
}

function bearerKey(authorization: unknown): string | undefined {
  if (typeof authorization !== 'string') return undefined;
  const value = authorization.trim();
  const key = BEARER.test(value) ? value.replace(BEARER, '') : value;
  return key === '' ? undefined : key;
}

const BEARER = /^bearer\s+/i;
