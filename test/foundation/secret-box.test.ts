import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox, SecretBoxError } from '../../src/lib/secret-box.js';

describe('SecretBox (AES-256-GCM at rest)', () => {
  const box = new SecretBox(randomBytes(32));

  it('round-trips text, including non-ASCII', () => {
    for (const s of ['', 'component-secret', '直播权限 ✓', 'x'.repeat(10_000)]) expect(box.open(box.seal(s))).toBe(s);
  });

  it('seals the same text differently each time (random IV)', () => {
    expect(box.seal('same')).not.toBe(box.seal('same'));
  });

  it('detects tampering with the ciphertext or the tag', () => {
    const sealed = box.seal('refresh-token');
    const parts = sealed.split('.');
    const ct = Buffer.from(parts[3] as string, 'base64url');
    ct[0] = (ct[0] as number) ^ 1;
    expect(() => box.open([parts[0], parts[1], parts[2], ct.toString('base64url')].join('.'))).toThrow(SecretBoxError);
    const tag = Buffer.from(parts[2] as string, 'base64url');
    tag[3] = (tag[3] as number) ^ 0x80;
    expect(() => box.open([parts[0], parts[1], tag.toString('base64url'), parts[3]].join('.'))).toThrow(SecretBoxError);
  });

  it('refuses to open under the wrong key, with a stable code', () => {
    const other = new SecretBox(randomBytes(32));
    try {
      other.open(box.seal('token'));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SecretBoxError);
      expect((err as SecretBoxError).code).toBe('SECRET_UNREADABLE');
    }
  });

  it('rejects malformed input and short keys', () => {
    expect(() => box.open('not-sealed')).toThrow(SecretBoxError);
    expect(() => new SecretBox(randomBytes(16))).toThrow(/32-byte/);
  });
});
