import type { ApiKeyScope } from '../context.js';

/** What one valid key looked like when it was last read from Postgres. */
export interface CachedKey {
  id: string;
  tenantId: string;
  scopes: ApiKeyScope[];
  /** ms since the epoch; null: never expires. */
  expiresAt: number | null;
  /** ms since the epoch, as this process last saw or wrote it. */
  lastUsedAt: number | null;
  rateLimit: { perSecond: number | null; burst: number | null };
}

/**
 * Valid keys by the SHA-256 of the key (never the key), for `ttlMs`: saves the lookup query on
 * every request. Entries go at once when a key is revoked or its tenant's settings change
 * (`dropKeys`, `dropTenant`, called for this process's own changes and for every other
 * instance's over Redis pub/sub), and all of them when that feed may have missed a message
 * (`clear`, on a resubscribe). The TTL bounds what a missed message can cost. Unknown keys are
 * never remembered. Full: emptied (cheap, and a flood of distinct valid keys is not a workload).
 */
export class ApiKeyCache {
  private readonly byHash = new Map<string, { at: number; key: CachedKey }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  get(hash: string, now: number): CachedKey | undefined {
    const hit = this.byHash.get(hash);
    if (!hit) return undefined;
    if (now - hit.at >= this.ttlMs || now < hit.at) {
      this.byHash.delete(hash);
      return undefined;
    }
    return hit.key;
  }

  set(hash: string, key: CachedKey, now: number): void {
    if (!this.enabled) return;
    if (this.byHash.size >= this.maxEntries) this.byHash.clear();
    this.byHash.set(hash, { at: now, key });
  }

  dropKeys(ids: readonly string[]): void {
    if (ids.length === 0) return;
    const wanted = new Set(ids);
    for (const [hash, { key }] of this.byHash) if (wanted.has(key.id)) this.byHash.delete(hash);
  }

  dropTenant(tenantId: string): void {
    for (const [hash, { key }] of this.byHash) if (key.tenantId === tenantId) this.byHash.delete(hash);
  }

  clear(): void {
    this.byHash.clear();
  }

  get size(): number {
    return this.byHash.size;
  }
}
