import { describe, expect, it } from 'vitest';
import { cachedAuthenticator } from '../../src/graphql/authenticate.js';
import type { TenantContext } from '../../src/services/context.js';

describe('cachedAuthenticator', () => {
  it('remembers a valid key for the TTL only, and never an unknown one', async () => {
    const valid = new Map<string, TenantContext>([['wxl_a', { tenantId: 't1', scopes: new Set(['read', 'write'] as const) }]]);
    const lookups: string[] = [];
    let now = 0;
    const auth = cachedAuthenticator(
      {
        authenticate: async (key) => {
          lookups.push(key);
          return valid.get(key);
        },
      },
      1000,
      () => now,
    );
    expect(await auth.authenticate('wxl_a')).toEqual({ tenantId: 't1', scopes: new Set(['read', 'write']) });
    expect(await auth.authenticate('wxl_a')).toEqual({ tenantId: 't1', scopes: new Set(['read', 'write']) });
    expect(await auth.authenticate('wxl_b')).toBeUndefined();
    expect(await auth.authenticate('wxl_b')).toBeUndefined();
    expect(lookups).toEqual(['wxl_a', 'wxl_b', 'wxl_b']);
    valid.delete('wxl_a');
    now = 999;
    expect(await auth.authenticate('wxl_a')).toBeDefined();
    now = 1000;
    expect(await auth.authenticate('wxl_a')).toBeUndefined();
    expect(await auth.authenticate('wxl_a')).toBeUndefined();
    expect(lookups).toEqual(['wxl_a', 'wxl_b', 'wxl_b', 'wxl_a', 'wxl_a']);
  });

  it('is the service itself when the TTL is 0', () => {
    const tenants = { authenticate: async () => undefined };
    expect(cachedAuthenticator(tenants, 0)).toBe(tenants);
  });
});
