import type { Clock } from '../lib/clock.js';
import type { TenantCrypto } from '../services/tenants.service.js';
import { MsgCrypt } from '../wechat/wire/msg-crypt.js';

/** Loads a tenant's decrypted message token and EncodingAESKey; undefined for an unknown tenant. */
export type LoadTenantCrypto = (tenantId: string) => Promise<TenantCrypto | undefined>;

export interface TenantCrypt {
  tenantId: string;
  componentAppId: string;
  crypt: MsgCrypt;
}

export interface TenantCryptCacheOptions {
  load: LoadTenantCrypto;
  clock: Clock;
  /** How long a tenant's MsgCrypt is reused; default 60 s (a rotated key is picked up within it). */
  ttlMs?: number;
  /** How long "no such tenant" is remembered, so random ids do not each cost a query; default 5 s. */
  negativeTtlMs?: number;
  /** Entries kept before the cache starts over; default 10,000. */
  maxEntries?: number;
}

interface Entry {
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

  constructor(private readonly options: TenantCryptCacheOptions) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.negativeTtlMs = options.negativeTtlMs ?? 5_000;
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  /** Rejects when the lookup fails (Postgres down): the caller answers 503, nothing is cached. */
  get(tenantId: string): Promise<TenantCrypt | undefined> {
    const now = this.options.clock.now();
    const hit = this.entries.get(tenantId);
    if (hit && hit.expiresAt > now) return hit.value;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    const entry: Entry = { expiresAt: now + this.ttlMs, value: this.load(tenantId) };
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
      crypt: new MsgCrypt({ token: found.token, encodingAesKey: found.encodingAesKey, appId: found.componentAppId }),
    };
  }
}
