import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** Stable code for a secret that cannot be opened: tampered, truncated, or sealed under another key. */
export class SecretBoxError extends Error {
  override readonly name = 'SecretBoxError';
  readonly code = 'SECRET_UNREADABLE';
}

const VERSION = 'v1';

/**
 * AES-256-GCM for secrets at rest (component secrets, message tokens, EncodingAESKeys,
 * authorizer refresh tokens). Output: `v1.<iv>.<tag>.<ciphertext>`, base64url parts.
 */
export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('SecretBox needs a 32-byte key');
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  open(sealed: string): string {
    const [version, iv, tag, ct] = sealed.split('.');
    if (version !== VERSION || iv === undefined || tag === undefined || ct === undefined) {
      throw new SecretBoxError('secret is not in the v1 sealed format');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError('secret failed authentication: wrong SECRET_KEY or tampered data');
    }
  }
}
