import type { Clock } from '../lib/clock.js';
import type { TenantCrypto } from '../services/tenants.service.js';
import { type PushCrypt, RotatingCrypt } from './rotating-crypt.js';

/** Loads a tenant's decrypted message token and EncodingAESKey; undefined for an unknown tenant. */
export type LoadTenantCrypto = (tenantId: string) => Promise<TenantCrypto | undefined>;

export interface TenantCrypt {
  tenantId: string;
  componentAppId: string;
  /** The current token and key, and the previous ones while their overlap window is open. */
  crypt: PushCrypt;
}

export interface TenantCryptCacheOptions {
  load: LoadTenantCrypto;
  clock: Clock;
  /** How long a tenant's MsgCrypt is reused; default 60 s (a rotated key is picked up within it). */
  ttlMs?: number;
  /** A push that fails under cached keys reloads them if they are at least this old; default 1 s (see `reload`). */
  reloadAfterMs?: number;
  /** How long "no such tenant" is remembered, so random ids do not each cost a query; default 5 s. */
  negativeTtlMs?: number;
  /** Entries kept before the cache starts over; default 10,000. */
  maxEntries?: number;
}

interface Entry {
  loadedAt: number;
  expiresAt: number;
  value: Promise<TenantCrypt | undefined>;
}

/**
 * MsgCrypt per tenant, on the hot path of every push: a lookup decrypts two secrets and imports
 * an AES key, so it is done once a minute per tenant, and concurrent first requests share it.
 */
export class TenantCryptCache {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  private readonly maxEntries: number;
  private readonly reloadAfterMs: number;

  constructor(private readonly options: TenantCryptCacheOptions) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.negativeTtlMs = options.negativeTtlMs ?? 5_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.reloadAfterMs = options.reloadAfterMs ?? 1_000;
  }

  /** Rejects when the lookup fails (Postgres down): the caller answers 503, nothing is cached. */
  get(tenantId: string): Promise<TenantCrypt | undefined> {
    const now = this.options.clock.now();
    const hit = this.entries.get(tenantId);
    if (hit && hit.expiresAt > now) return hit.value;
    return this.fetch(tenantId, now);
  }

  /**
   * After a push failed verification under the cached keys: loads them again if the cached ones are
   * older than `reloadAfterMs`, else undefined. The token or key may have been rotated on another
   * instance or by the CLI within the cache's TTL; bounded, so forged pushes cost at most one
   * lookup per tenant every few seconds.
   */
  reload(tenantId: string): Promise<TenantCrypt | undefined> | undefined {
    const now = this.options.clock.now();
    const hit = this.entries.get(tenantId);
    if (hit && now - hit.loadedAt < this.reloadAfterMs) return undefined;
    return this.fetch(tenantId, now);
  }

  private fetch(tenantId: string, now: number): Promise<TenantCrypt | undefined> {
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    const entry: Entry = { loadedAt: now, expiresAt: now + this.ttlMs, value: this.load(tenantId) };
    this.entries.set(tenantId, entry);
    entry.value.then(
      (found) => {
        if (found === undefined) entry.expiresAt = this.options.clock.now() + this.negativeTtlMs;
      },
      () => {
        if (this.entries.get(tenantId) === entry) this.entries.delete(tenantId);
      },
    );
    return entry.value;
  }

  /** Forget one tenant (after its keys changed) or everyone. */
  invalidate(tenantId?: string): void {
    if (tenantId === undefined) this.entries.clear();
    else this.entries.delete(tenantId);
  }

  private async load(tenantId: string): Promise<TenantCrypt | undefined> {
    const found = await this.options.load(tenantId);
    if (found === undefined) return undefined;
    return {
      tenantId: found.tenantId,
      componentAppId: found.componentAppId,
      // The receive id inside every push is the component app id, also for authorizer events.
      crypt: new RotatingCrypt(found, found.componentAppId, this.options.clock, found.previous),
    };
  }
}
