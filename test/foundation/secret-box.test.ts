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

  describe('key ring (SECRET_KEYS)', () => {
    const [k0, k1, k2] = [randomBytes(32), randomBytes(32), randomBytes(32)];

    it('seals under the first key, with its id in the value, and opens under any key of the ring', () => {
      const old = new SecretBox([{ id: 'k1', key: k1 }]);
      const ring = new SecretBox([
        { id: 'k2', key: k2 },
        { id: 'k1', key: k1 },
      ]);
      const sealed = ring.seal('component-secret');
      expect(sealed.startsWith('v2.k2.')).toBe(true);
      expect(ring.keyIdOf(sealed)).toBe('k2');
      expect(ring.open(old.seal('under k1'))).toBe('under k1');
      expect(ring.isCurrent(old.seal('x'))).toBe(false);
      expect(ring.reseal(old.seal('moved')).startsWith('v2.k2.')).toBe(true);
    });

    it('opens values sealed before key ids (SECRET_KEY) as key k0, and a k0-only ring still seals them that way', () => {
      const legacy = new SecretBox(k0).seal('from SECRET_KEY');
      expect(legacy.startsWith('v1.')).toBe(true);
      const ring = new SecretBox([
        { id: 'k1', key: k1 },
        { id: 'k0', key: k0 },
      ]);
      expect(ring.keyIdOf(legacy)).toBe('k0');
      expect(ring.open(legacy)).toBe('from SECRET_KEY');
      expect(new SecretBox([{ id: 'k0', key: k0 }]).seal('x').startsWith('v1.')).toBe(true);
    });

    it('names the missing key id and what to do when a value was sealed under a removed key', () => {
      const sealed = new SecretBox([{ id: 'k1', key: k1 }]).seal('token');
      const without = new SecretBox([{ id: 'k2', key: k2 }]);
      expect(() => without.open(sealed)).toThrow(SecretBoxError);
      expect(() => without.open(sealed)).toThrow(/sealed under key k1, which is not in SECRET_KEYS \(it holds k2\): put k1:<that key> back in SECRET_KEYS/);
      try {
        without.open(sealed);
      } catch (err) {
        expect((err as SecretBoxError).keyId).toBe('k1');
      }
      expect(() => without.open(new SecretBox(k0).seal('legacy'))).toThrow(/key k0 \(a value from before key ids/);
    });

    it('binds the key id to the ciphertext: relabelling a value fails authentication', () => {
      const both = new SecretBox([
        { id: 'k2', key: k2 },
        { id: 'k1', key: k2 },
      ]);
      const relabelled = both.seal('secret').replace(/^v2\.k2\./, 'v2.k1.');
      expect(() => both.open(relabelled)).toThrow(/failed authentication under key k1/);
    });

    it('refuses an empty ring, repeated ids and ids that would break the format', () => {
      expect(() => new SecretBox([])).toThrow(/at least one key/);
      expect(
        () =>
          new SecretBox([
            { id: 'k1', key: k1 },
            { id: 'k1', key: k2 },
          ]),
      ).toThrow(/appears twice/);
      expect(() => new SecretBox([{ id: 'k.1', key: k1 }])).toThrow(/not letters/);
    });
  });
});
