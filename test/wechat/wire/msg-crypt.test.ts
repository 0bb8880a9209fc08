import { createCipheriv, createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MsgCrypt, MsgCryptError, type MsgCryptErrorCode, msgSignature, plainSignature, verifySignature } from '../../../src/wechat/wire/msg-crypt.js';
import { parseWechatXml, textOf } from '../../../src/webhooks/xml/parse-xml.js';

interface Vector {
  id: string;
  kind: string;
  complete: boolean;
  missing?: string;
  token?: string;
  encoding_aes_key?: string;
  appid?: string;
  timestamp?: string | null;
  nonce?: string | null;
  msg_signature?: string | null;
  signature?: string;
  encrypt?: string;
  random16?: string;
  expected_plaintext?: string | null;
  decrypted_plaintext?: string;
  expected_plaintext_fields?: Record<string, string | number>;
  lossy_field_check?: Record<string, { plaintext_value: string; fixture_literal: string }>;
  verification: {
    decrypted?: { random16_hex: string; msg_len: number; receive_id: string; pkcs7_pad: number; ciphertext_bytes: number };
  };
}

// Read at test time from the shared folder beside the repo; the vectors are not copied in.
const vectors = JSON.parse(readFileSync(new URL('../../../../shared/vectors/wxbizmsgcrypt.json', import.meta.url), 'utf8')) as Vector[];

const KEY = 'K6ALywFxByQpJ8y3Z5dAhxmP0vC6HxUP4yta3O4Tyd9';
const OTHER_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const TOKEN = '9fsWzHGqm5bdfAAMyFKnZWq17fDZYAng';
const APP_ID = 'wx52f62e22acefc805';
const crypt = new MsgCrypt({ token: TOKEN, encodingAesKey: KEY, appId: APP_ID });

function codeOf(fn: () => unknown): MsgCryptErrorCode | 'NO_ERROR' {
  try {
    fn();
  } catch (error) {
    if (error instanceof MsgCryptError) return error.code;
    throw error;
  }
  return 'NO_ERROR';
}

// Independent AES helpers, so crafted plaintexts do not go through the code under test.
function aes(encodingAesKey: string): { key: Buffer; iv: Buffer } {
  const key = Buffer.from(`${encodingAesKey}=`, 'base64');
  return { key, iv: key.subarray(0, 16) };
}

function rawEncrypt(plain: Buffer, encodingAesKey = KEY): string {
  const { key, iv } = aes(encodingAesKey);
  const cipher = createCipheriv('aes-256-cbc', key, iv).setAutoPadding(false);
  return Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64');
}

function rawDecrypt(encrypt: string, encodingAesKey = KEY): Buffer {
  const { key, iv } = aes(encodingAesKey);
  const decipher = createDecipheriv('aes-256-cbc', key, iv).setAutoPadding(false);
  return Buffer.concat([decipher.update(Buffer.from(encrypt, 'base64')), decipher.final()]);
}

function unpadded(message: string, receiveId = APP_ID, length = Buffer.byteLength(message)): Buffer {
  const header = Buffer.alloc(20, 0x61);
  header.writeUInt32BE(length, 16);
  return Buffer.concat([header, Buffer.from(message), Buffer.from(receiveId)]);
}

function withPadding(body: Buffer, padding: number[]): Buffer {
  return Buffer.concat([body, Buffer.from(padding)]);
}

function pkcs7(body: Buffer, block = 32): Buffer {
  const pad = block - (body.length % block);
  return withPadding(body, new Array<number>(pad).fill(pad));
}

function flipByte(encrypt: string, index: number): string {
  const bytes = Buffer.from(encrypt, 'base64');
  const at = index < 0 ? bytes.length + index : index;
  bytes[at] = (bytes[at] ?? 0) ^ 0x01;
  return bytes.toString('base64');
}

describe('published WXBizMsgCrypt vectors', () => {
  it('covers every kind in the vectors file', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(12);
    expect(new Set(vectors.map((v) => v.kind))).toEqual(
      new Set([
        'message_decrypt',
        'echostr_verify',
        'message_encrypt_deterministic',
        'aes_payload_deterministic',
        'aes_decrypt_only',
        'msg_signature_only',
        'plain_signature_only',
      ]),
    );
  });

  it.each(vectors.map((v) => [`${v.id} (${v.kind})`, v] as const))('passes %s for every field it carries', (_name, v) => {
    expect.hasAssertions();
    const { token, timestamp, nonce, encrypt } = v;

    if (token !== undefined && timestamp && nonce && encrypt !== undefined && v.msg_signature) {
      expect(msgSignature(token, timestamp, nonce, encrypt)).toBe(v.msg_signature);
    }
    if (token !== undefined && timestamp && nonce && v.signature) {
      expect(plainSignature(token, timestamp, nonce)).toBe(v.signature);
    }
    if (v.encoding_aes_key === undefined || v.appid === undefined) return;
    const vectorCrypt = new MsgCrypt({ token: token ?? '', encodingAesKey: v.encoding_aes_key, appId: v.appid });
    if (v.kind === 'msg_signature_only' || encrypt === undefined) return;

    const payload = vectorCrypt.decryptPayload(encrypt);
    const plaintext = payload.message.toString('utf8');
    expect(plaintext).toBe(v.decrypted_plaintext);
    if (v.expected_plaintext != null) expect(plaintext).toBe(v.expected_plaintext);
    expect(payload.receiveId).toBe(v.appid);
    expect(vectorCrypt.decrypt(encrypt)).toBe(plaintext);

    const facts = v.verification.decrypted;
    if (facts) {
      const ciphertextBytes = Buffer.from(encrypt, 'base64').length;
      expect(payload.random16.toString('hex')).toBe(facts.random16_hex);
      expect(payload.message.length).toBe(facts.msg_len);
      expect(payload.receiveId).toBe(facts.receive_id);
      expect(ciphertextBytes).toBe(facts.ciphertext_bytes);
      expect(ciphertextBytes - 20 - payload.message.length - Buffer.byteLength(v.appid)).toBe(facts.pkcs7_pad);
    }

    if (v.complete && token !== undefined && timestamp && nonce && v.msg_signature) {
      const signed = { msgSignature: v.msg_signature, timestamp, nonce };
      expect(vectorCrypt.verifyAndDecrypt({ ...signed, encrypt })).toBe(plaintext);
      if (v.kind === 'echostr_verify') expect(vectorCrypt.verifyEchostr({ ...signed, echostr: encrypt })).toBe(plaintext);
    }

    if (v.random16 !== undefined) {
      const random16 = Buffer.from(v.random16, 'utf8');
      expect(vectorCrypt.encrypt(plaintext, random16)).toBe(encrypt);
      if (timestamp && nonce && v.msg_signature) {
        expect(vectorCrypt.encryptAndSign(plaintext, timestamp, nonce, random16)).toEqual({ encrypt, msgSignature: v.msg_signature });
      }
    }

    if (v.expected_plaintext_fields) {
      const root = parseWechatXml(plaintext);
      for (const [name, value] of Object.entries(v.expected_plaintext_fields)) {
        expect(textOf(root, name), name).toBe(String(value));
      }
      for (const [name, check] of Object.entries(v.lossy_field_check ?? {})) {
        expect(textOf(root, name), name).toBe(check.plaintext_value);
        expect(textOf(root, name), name).not.toBe(check.fixture_literal);
      }
    }
  });

  it('decrypts the real captured pushes whose random prefix is not valid UTF-8', () => {
    const captured = vectors.filter((v) => v.id.startsWith('wechat-open-sdk-'));
    expect(captured).toHaveLength(2);
    for (const v of captured) {
      const payload = new MsgCrypt({ token: v.token ?? '', encodingAesKey: v.encoding_aes_key ?? '', appId: v.appid ?? '' }).decryptPayload(v.encrypt ?? '');
      // A decoder that turns the plaintext into a string first would see a prefix of another length.
      expect(Buffer.byteLength(payload.random16.toString('utf8'))).not.toBe(16);
      expect(payload.message.toString('utf8')).toBe(v.decrypted_plaintext);
    }
  });

  it('keeps the captured voice push MsgId exact beyond 2^53', () => {
    const voice = vectors.find((v) => v.id === 'wechat-open-sdk-push-voice-message');
    const plaintext = new MsgCrypt({ token: '', encodingAesKey: voice?.encoding_aes_key ?? '', appId: voice?.appid ?? '' }).decrypt(voice?.encrypt ?? '');
    expect(textOf(parseWechatXml(plaintext), 'MsgId')).toBe('22449548215715819');
  });

  it('checks the plain `signature` query parameter', () => {
    const v = vectors.find((x) => x.kind === 'plain_signature_only');
    const plain = new MsgCrypt({ token: v?.token ?? '', encodingAesKey: KEY, appId: APP_ID });
    expect(plain.verifyPlainSignature(v?.signature ?? '', v?.timestamp ?? '', v?.nonce ?? '')).toBe(true);
    expect(plain.verifyPlainSignature(v?.signature ?? '', v?.timestamp ?? '', 'other')).toBe(false);
  });
});

describe('encrypt and decrypt', () => {
  it('round-trips every padding length from 1 to 32', () => {
    const pads = new Set<number>();
    for (let n = 0; n <= 64; n++) {
      const message = 'm'.repeat(n);
      const encrypt = crypt.encrypt(message);
      expect(crypt.decrypt(encrypt)).toBe(message);
      const plain = rawDecrypt(encrypt);
      const pad = plain[plain.length - 1] ?? 0;
      expect(plain.subarray(plain.length - pad).every((b) => b === pad)).toBe(true);
      expect(plain.length % 32).toBe(0);
      pads.add(pad);
    }
    expect([...pads].sort((a, b) => a - b)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
  });

  it('adds a whole 32-byte block of padding when the plaintext is already aligned', () => {
    // 20 header bytes + 26 + 18 (app id) = 64
    const encrypt = crypt.encrypt('x'.repeat(26));
    const plain = rawDecrypt(encrypt);
    expect(plain.length).toBe(96);
    expect([...plain.subarray(64)]).toEqual(new Array<number>(32).fill(32));
    expect(crypt.decrypt(encrypt)).toBe('x'.repeat(26));
  });

  it('round-trips Chinese text, counting UTF-8 bytes rather than characters', () => {
    const message = '<xml><Content><![CDATA[直播已开通：小程序 🎉]]></Content></xml>';
    expect(crypt.decrypt(crypt.encrypt(message))).toBe(message);

    // 8 × 3 bytes + 2 = 26 bytes: aligned, so a whole block of padding
    const aligned = '直播已开通小程序ok';
    const plain = rawDecrypt(crypt.encrypt(aligned));
    expect(plain.readUInt32BE(16)).toBe(26);
    expect(plain.length).toBe(96);
    expect(crypt.decryptPayload(crypt.encrypt(aligned)).message.toString('utf8')).toBe(aligned);
  });

  it('uses a fresh random prefix unless one is given', () => {
    const a = crypt.encrypt('same');
    const b = crypt.encrypt('same');
    expect(a).not.toBe(b);
    expect(crypt.decrypt(a)).toBe(crypt.decrypt(b));
    const prefix = Buffer.from('0123456789abcdef');
    expect(crypt.encrypt('same', prefix)).toBe(crypt.encrypt('same', prefix));
    expect(crypt.decryptPayload(crypt.encrypt('same', prefix)).random16).toEqual(prefix);
    expect(() => crypt.encrypt('same', Buffer.alloc(15))).toThrow(RangeError);
  });

  it('signs what it encrypts so verifyAndDecrypt accepts it', () => {
    const { encrypt, msgSignature: signature } = crypt.encryptAndSign('<xml/>', '1700000000', 'n0nce');
    expect(signature).toBe(msgSignature(TOKEN, '1700000000', 'n0nce', encrypt));
    expect(crypt.verifyAndDecrypt({ msgSignature: signature, timestamp: '1700000000', nonce: 'n0nce', encrypt })).toBe('<xml/>');
    expect(crypt.verifyEchostr({ msgSignature: signature, timestamp: '1700000000', nonce: 'n0nce', echostr: encrypt })).toBe('<xml/>');
  });
});

describe('rejecting pushes', () => {
  it('rejects a forged, mistyped or plain-mode signature before decrypting', () => {
    const signed = crypt.encryptAndSign('<xml/>', '1700000000', 'nonce');
    const base = { timestamp: '1700000000', nonce: 'nonce', encrypt: signed.encrypt };
    expect(codeOf(() => crypt.verifyAndDecrypt({ ...base, msgSignature: '0'.repeat(40) }))).toBe('BAD_SIGNATURE');
    expect(codeOf(() => crypt.verifyAndDecrypt({ ...base, msgSignature: signed.msgSignature.toUpperCase() }))).toBe('BAD_SIGNATURE');
    expect(codeOf(() => crypt.verifyAndDecrypt({ ...base, msgSignature: plainSignature(TOKEN, '1700000000', 'nonce') }))).toBe('BAD_SIGNATURE');
    expect(codeOf(() => crypt.verifyAndDecrypt({ ...base, msgSignature: msgSignature('other', '1700000000', 'nonce', signed.encrypt) }))).toBe('BAD_SIGNATURE');
    expect(codeOf(() => crypt.verifyAndDecrypt({ ...base, nonce: 'nonce2', msgSignature: signed.msgSignature }))).toBe('BAD_SIGNATURE');
    expect(codeOf(() => crypt.verifyAndDecrypt({ ...base, msgSignature: '' }))).toBe('BAD_SIGNATURE');
    // Signature checked first: even garbage ciphertext reports BAD_SIGNATURE, never a padding error.
    expect(codeOf(() => crypt.verifyAndDecrypt({ ...base, encrypt: 'AAAA', msgSignature: signed.msgSignature }))).toBe('BAD_SIGNATURE');
  });

  it('rejects tampered ciphertext', () => {
    const signed = crypt.encryptAndSign('y'.repeat(7), '1', '2'); // 20 + 7 + 18 = 45: pad 19
    const tampered = flipByte(signed.encrypt, 40);
    expect(codeOf(() => crypt.verifyAndDecrypt({ msgSignature: signed.msgSignature, timestamp: '1', nonce: '2', encrypt: tampered }))).toBe('BAD_SIGNATURE');
    // CBC is malleable: flipping a bit of the second-to-last AES block flips the last pad byte (19 → 18).
    expect(codeOf(() => crypt.decrypt(flipByte(signed.encrypt, -17)))).toBe('BAD_PADDING');
    // Flipping the first byte turns the length field's top byte into garbage.
    expect(codeOf(() => crypt.decrypt(flipByte(signed.encrypt, 0)))).toBe('BAD_LENGTH');
  });

  it('rejects ciphertext that is not whole 32-byte blocks of base64', () => {
    expect(codeOf(() => crypt.decrypt(''))).toBe('BAD_CIPHERTEXT');
    expect(codeOf(() => crypt.decrypt('not base64!'))).toBe('BAD_CIPHERTEXT');
    expect(codeOf(() => crypt.decrypt(Buffer.alloc(16).toString('base64')))).toBe('BAD_CIPHERTEXT');
    const valid = crypt.encrypt('hello');
    expect(codeOf(() => crypt.decrypt(`${valid.slice(0, 10)} ${valid.slice(10)}`))).toBe('BAD_CIPHERTEXT');
    expect(codeOf(() => crypt.decrypt(valid.slice(0, -1)))).toBe('BAD_CIPHERTEXT');
    // PKCS#7 over 16-byte blocks, as OpenSSL would write it: 20 + 5 + 18 = 43 → 48 bytes.
    expect(codeOf(() => crypt.decrypt(rawEncrypt(pkcs7(unpadded('hello'), 16))))).toBe('BAD_CIPHERTEXT');
  });

  it('rejects padding bytes outside 1..32 or not all equal', () => {
    const body = unpadded('x'.repeat(10)); // 48 bytes: 16 to pad
    expect(crypt.decrypt(rawEncrypt(pkcs7(body)))).toBe('x'.repeat(10));
    expect(codeOf(() => crypt.decrypt(rawEncrypt(withPadding(body, new Array<number>(16).fill(0)))))).toBe('BAD_PADDING');
    expect(codeOf(() => crypt.decrypt(rawEncrypt(withPadding(body, [...new Array<number>(15).fill(16), 33]))))).toBe('BAD_PADDING');
    expect(codeOf(() => crypt.decrypt(rawEncrypt(withPadding(body, [...new Array<number>(14).fill(16), 15, 16]))))).toBe('BAD_PADDING');
    expect(codeOf(() => crypt.decrypt(rawEncrypt(withPadding(body, [...new Array<number>(15).fill(0), 16]))))).toBe('BAD_PADDING');
  });

  it('rejects a length field that does not fit the plaintext', () => {
    expect(codeOf(() => crypt.decrypt(rawEncrypt(pkcs7(unpadded('abc', APP_ID, 0xffffffff)))))).toBe('BAD_LENGTH');
    expect(codeOf(() => crypt.decrypt(rawEncrypt(pkcs7(unpadded('abc', APP_ID, 3 + 18 + 1)))))).toBe('BAD_LENGTH');
    // A block of nothing but padding leaves no room for the 20-byte header.
    expect(codeOf(() => crypt.decrypt(rawEncrypt(Buffer.alloc(32, 32))))).toBe('BAD_LENGTH');
  });

  it('rejects a receive id other than this app id, including a prefix or extension of it', () => {
    const other = new MsgCrypt({ token: TOKEN, encodingAesKey: KEY, appId: 'wx0000000000000000' });
    expect(codeOf(() => other.decrypt(crypt.encrypt('hi')))).toBe('WRONG_APP_ID');
    expect(codeOf(() => crypt.decrypt(rawEncrypt(pkcs7(unpadded('hi', APP_ID.slice(0, -1))))))).toBe('WRONG_APP_ID');
    expect(codeOf(() => crypt.decrypt(rawEncrypt(pkcs7(unpadded('hi', `${APP_ID}x`)))))).toBe('WRONG_APP_ID');
    expect(codeOf(() => crypt.decrypt(rawEncrypt(pkcs7(unpadded('hi', '')))))).toBe('WRONG_APP_ID');
  });

  it('fails to open a push sealed under another EncodingAESKey', () => {
    const sealedElsewhere = new MsgCrypt({ token: TOKEN, encodingAesKey: OTHER_KEY, appId: APP_ID });
    for (let i = 0; i < 20; i++) {
      expect(['BAD_PADDING', 'BAD_LENGTH', 'WRONG_APP_ID']).toContain(codeOf(() => crypt.decrypt(sealedElsewhere.encrypt(`message ${i}`))));
    }
  });

  it('refuses an EncodingAESKey that is not 43 base64 characters', () => {
    for (const encodingAesKey of ['', KEY.slice(0, 42), `${KEY}A`, `${KEY.slice(0, 42)}-`, `${KEY.slice(0, 42)}=`, `${KEY.slice(0, 41)} A`]) {
      expect(
        codeOf(() => new MsgCrypt({ token: TOKEN, encodingAesKey, appId: APP_ID })),
        JSON.stringify(encodingAesKey),
      ).toBe('BAD_KEY');
    }
  });

  it('reports failures as MsgCryptError with a stable code', () => {
    try {
      crypt.decrypt('');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(MsgCryptError);
      expect(error).toBeInstanceOf(Error);
      expect((error as MsgCryptError).name).toBe('MsgCryptError');
      expect((error as MsgCryptError).code).toBe('BAD_CIPHERTEXT');
    }
  });
});

describe('verifySignature', () => {
  const sig = msgSignature('t', '1', 'n', 'e');

  it('accepts only the identical string', () => {
    expect(verifySignature(sig, sig)).toBe(true);
    expect(verifySignature(sig, `${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`)).toBe(false);
  });

  it('returns false on unequal lengths instead of throwing', () => {
    expect(verifySignature(sig, sig.slice(0, -1))).toBe(false);
    expect(verifySignature(sig, `${sig}0`)).toBe(false);
    expect(verifySignature(sig, '')).toBe(false);
    expect(verifySignature('', sig)).toBe(false);
    // same number of characters, different number of bytes
    expect(verifySignature(sig, `${sig.slice(0, -1)}é`)).toBe(false);
  });
});
