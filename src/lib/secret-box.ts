import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** Stable code for a secret that cannot be opened: tampered, truncated, or sealed under a key the box does not hold. */
export class SecretBoxError extends Error {
  override readonly name = 'SecretBoxError';
  readonly code = 'SECRET_UNREADABLE';
  constructor(
    message: string,
    /** The key the value names (undefined when the value is not in a sealed format at all). */
    readonly keyId?: string,
  ) {
    super(message);
  }
}

/** One key of SECRET_KEYS: its id travels inside every value it seals. */
export interface SecretKey {
  id: string;
  key: Buffer;
}

/** The id SECRET_KEY has (a deployment from before SECRET_KEYS), and that every `v1` value was sealed under. */
export const LEGACY_KEY_ID = 'k0';
/** Key ids are written into sealed values, whose parts are separated by dots. */
export const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * AES-256-GCM for secrets at rest (component secrets, message tokens, EncodingAESKeys, refresh
 * tokens, webhook signing secrets), under a ring of keys: the first seals, every one opens.
 *
 * Formats, base64url parts:
 * - `v2.<kid>.<iv>.<tag>.<ciphertext>`, the key id also bound as additional authenticated data;
 * - `v1.<iv>.<tag>.<ciphertext>`: key `k0`, the one SECRET_KEY was before key ids existed.
 * A `k0` ring still seals `v1`, so a deployment that only upgrades (SECRET_KEY unchanged) writes
 * nothing its previous release, still running beside it or rolled back to, cannot open.
 */
export class SecretBox {
  private readonly current: SecretKey;
  private readonly keys: ReadonlyMap<string, Buffer>;

  /** A bare key is SECRET_KEY: the ring `[k0]`. */
  constructor(keys: Buffer | readonly SecretKey[]) {
    const ring = Buffer.isBuffer(keys) ? [{ id: LEGACY_KEY_ID, key: keys }] : keys;
    const [first] = ring;
    if (!first) throw new Error('SecretBox needs at least one key');
    const map = new Map<string, Buffer>();
    for (const { id, key } of ring) {
      if (key.length !== 32) throw new Error('SecretBox needs a 32-byte key');
      if (!KEY_ID.test(id)) throw new Error(`SecretBox key id "${id}" is not letters, digits, - or _`);
      if (map.has(id)) throw new Error(`SecretBox key id "${id}" appears twice`);
      map.set(id, key);
    }
    this.current = first;
    this.keys = map;
  }

  /** The id of the key that seals. */
  get currentKeyId(): string {
    return this.current.id;
  }

  /** The ids of every key that opens, the sealing one first. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  /** The id of the key a value was sealed under, read from the value (nothing is decrypted). */
  keyIdOf(sealed: string): string {
    return parse(sealed).kid;
  }

  /** Whether a value is sealed under the current key (what rotation leaves alone). */
  isCurrent(sealed: string): boolean {
    return this.keyIdOf(sealed) === this.current.id;
  }

  seal(plaintext: string): string {
    const { id, key } = this.current;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const head = id === LEGACY_KEY_ID ? ['v1'] : ['v2', id];
    if (head.length > 1) cipher.setAAD(Buffer.from(head.join('.')));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [...head, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  open(sealed: string): string {
    const { kid, aad, iv, tag, ct } = parse(sealed);
    const key = this.keys.get(kid);
    if (!key) {
      const legacy = aad === undefined ? ' (a value from before key ids: the key that was SECRET_KEY)' : '';
      throw new SecretBoxError(
        `secret sealed under key ${kid}${legacy}, which is not in SECRET_KEYS (it holds ${this.keyIds.join(', ')}): put ${kid}:<that key> back in SECRET_KEYS after the first key and run \`wxlive secrets rotate\` before removing it`,
        kid,
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      if (aad !== undefined) decipher.setAAD(Buffer.from(aad));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError(
        `secret failed authentication under key ${kid}: that id holds another key in SECRET_KEYS (or SECRET_KEY), or the data was tampered with`,
        kid,
      );
    }
  }

  /** Opens a value and seals it again under the current key. */
  reseal(sealed: string): string {
    return this.seal(this.open(sealed));
  }
}

function parse(sealed: string): { kid: string; aad: string | undefined; iv: string; tag: string; ct: string } {
  const parts = sealed.split('.');
  if (parts[0] === 'v1' && parts.length === 4) {
    const [, iv = '', tag = '', ct = ''] = parts;
    return { kid: LEGACY_KEY_ID, aad: undefined, iv, tag, ct };
  }
  if (parts[0] === 'v2' && parts.length === 5 && KEY_ID.test(parts[1] ?? '')) {
    const [, kid = '', iv = '', tag = '', ct = ''] = parts;
    return { kid, aad: `v2.${kid}`, iv, tag, ct };
  }
  throw new SecretBoxError('secret is not in a sealed format (v1 or v2)');
}
