/**
 * Redis keys of the token cache. Every key names the prefix, the component app id and the tenant,
 * so tenants never read or overwrite each other's tokens (even two tenants configured with the same
 * component). The `{wx:<componentAppId>}` hash tag keeps a token, its lock and its failure marker
 * in one Redis Cluster slot, which the Lua scripts that touch two of them at once require.
 */
export interface TokenKeys {
  /** JSON `CachedToken`. */
  token: string;
  /** Refresh lock; value is the holder's random fencing value. */
  lock: string;
  /** A refresh that failed moments ago; callers answer with it instead of calling WeChat again. */
  failure: string;
}

function keysFor(base: string): TokenKeys {
  return { token: base, lock: `${base}:lock`, failure: `${base}:failure` };
}

export function componentTokenKeys(prefix: string, tenantId: string, componentAppId: string): TokenKeys {
  return keysFor(`${prefix}:{wx:${componentAppId}}:${tenantId}:component_token`);
}

export function authorizerTokenKeys(prefix: string, tenantId: string, componentAppId: string, appId: string): TokenKeys {
  return keysFor(`${prefix}:{wx:${componentAppId}}:${tenantId}:authorizer_token:${appId}`);
}
