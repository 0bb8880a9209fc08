import { createCipheriv, createDecipheriv, createHash, createSecretKey, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';

export type MsgCryptErrorCode = 'BAD_SIGNATURE' | 'BAD_CIPHERTEXT' | 'BAD_PADDING' | 'BAD_LENGTH' | 'WRONG_APP_ID' | 'BAD_KEY';

/** A push that cannot be trusted or opened; `code` is stable, the message is for logs only. */
export class MsgCryptError extends Error {
  override readonly name = 'MsgCryptError';
  constructor(
    readonly code: MsgCryptErrorCode,
    message: string = code,
  ) {
    super(message);
  }
}

export interface MsgCryptOptions {
  token: string;
  /** The 43-character key from the WeChat console. */
  encodingAesKey: string;
  /** The receive id WeChat puts after the message: the component app id for Open Platform pushes. */
  appId: string;
}

export interface SignedCiphertext {
  msgSignature: string;
  timestamp: string;
  nonce: string;
  encrypt: string;
}

/** The opened plaintext, still as bytes; the receive id has already been checked. */
export interface DecryptedPayload {
  random16: Buffer;
  message: Buffer;
  receiveId: string;
}

// WeChat pads with PKCS#7 over 32-byte blocks (not AES's 16), so a ciphertext is a whole number of them.
const PAD_BLOCK = 32;
const RANDOM_BYTES = 16;
const HEADER_BYTES = RANDOM_BYTES + 4;
const ENCODING_AES_KEY = /^[A-Za-z0-9+/]{43}$/;
// Node's base64 decoder skips characters it does not know; reject them instead of decrypting a guess.
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function sha1Hex(parts: string[]): string {
  return createHash('sha1').update(parts.sort().join('')).digest('hex');
}

/** `msg_signature`: sha1 over the sorted token, timestamp, nonce and Encrypt, lowercase hex. */
export function msgSignature(token: string, timestamp: string, nonce: string, encrypt: string): string {
  return sha1Hex([token, timestamp, nonce, encrypt]);
}

/** The `signature` query parameter: the same sha1 without Encrypt (do not accept it for messages). */
export function plainSignature(token: string, timestamp: string, nonce: string): string {
  return sha1Hex([token, timestamp, nonce]);
}

/** Constant-time comparison; a length mismatch returns false instead of throwing like timingSafeEqual. */
export function verifySignature(expectedHex: string, actualHex: string): boolean {
  const expected = Buffer.from(expectedHex, 'utf8');
  const actual = Buffer.from(actualHex, 'utf8');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** WXBizMsgCrypt for one (token, EncodingAESKey, receive id); build it once and reuse it per push. */
export class MsgCrypt {
  private readonly token: string;
  private readonly key: KeyObject;
  private readonly iv: Buffer;
  private readonly appIdBytes: Buffer;

  constructor(opts: MsgCryptOptions) {
    if (!ENCODING_AES_KEY.test(opts.encodingAesKey)) {
      throw new MsgCryptError('BAD_KEY', 'EncodingAESKey must be 43 base64 characters');
    }
    const raw = Buffer.from(`${opts.encodingAesKey}=`, 'base64');
    if (raw.length !== 32) throw new MsgCryptError('BAD_KEY', 'EncodingAESKey does not decode to 32 bytes');
    this.token = opts.token;
    this.key = createSecretKey(raw);
    this.iv = Buffer.from(raw.subarray(0, 16));
    this.appIdBytes = Buffer.from(opts.appId, 'utf8');
  }

  /** Checks `msg_signature` before touching the ciphertext, so unsigned input never reaches AES. */
  verifyAndDecrypt(input: SignedCiphertext): string {
    this.assertSigned(input);
    return this.decrypt(input.encrypt);
  }

  /** URL verification: `echostr` is encrypted and signed exactly like a message's Encrypt. */
  verifyEchostr(input: { msgSignature: string; timestamp: string; nonce: string; echostr: string }): string {
    return this.verifyAndDecrypt({ ...input, encrypt: input.echostr });
  }

  /** The `signature` query parameter, for URLs configured in plaintext mode. */
  verifyPlainSignature(signature: string, timestamp: string, nonce: string): boolean {
    return verifySignature(plainSignature(this.token, timestamp, nonce), signature);
  }

  decrypt(encryptB64: string): string {
    return this.decryptPayload(encryptB64).message.toString('utf8');
  }

  decryptPayload(encryptB64: string): DecryptedPayload {
    const plain = this.open(encryptB64);
    const content = plain.subarray(0, plain.length - checkedPadding(plain));
    if (content.length < HEADER_BYTES) throw new MsgCryptError('BAD_LENGTH', 'plaintext shorter than its header');
    const messageEnd = HEADER_BYTES + content.readUInt32BE(RANDOM_BYTES);
    if (messageEnd > content.length) throw new MsgCryptError('BAD_LENGTH', 'length field exceeds the plaintext');
    const receiveId = content.subarray(messageEnd);
    if (!receiveId.equals(this.appIdBytes)) {
      throw new MsgCryptError('WRONG_APP_ID', 'receive id in the plaintext is not this app id');
    }
    return {
      random16: content.subarray(0, RANDOM_BYTES),
      message: content.subarray(HEADER_BYTES, messageEnd),
      receiveId: receiveId.toString('utf8'),
    };
  }

  encrypt(message: string, random16: Buffer = randomBytes(RANDOM_BYTES)): string {
    if (random16.length !== RANDOM_BYTES) throw new RangeError('random16 must be 16 bytes');
    const messageBytes = Buffer.byteLength(message, 'utf8');
    const unpadded = HEADER_BYTES + messageBytes + this.appIdBytes.length;
    const pad = PAD_BLOCK - (unpadded % PAD_BLOCK);
    const plain = Buffer.alloc(unpadded + pad, pad);
    random16.copy(plain, 0);
    plain.writeUInt32BE(messageBytes, RANDOM_BYTES);
    plain.write(message, HEADER_BYTES, 'utf8');
    this.appIdBytes.copy(plain, HEADER_BYTES + messageBytes);
    const cipher = createCipheriv('aes-256-cbc', this.key, this.iv).setAutoPadding(false);
    return Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64');
  }

  encryptAndSign(message: string, timestamp: string, nonce: string, random16?: Buffer): { encrypt: string; msgSignature: string } {
    const encrypt = this.encrypt(message, random16);
    return { encrypt, msgSignature: msgSignature(this.token, timestamp, nonce, encrypt) };
  }

  private assertSigned(input: SignedCiphertext): void {
    const expected = msgSignature(this.token, input.timestamp, input.nonce, input.encrypt);
    if (!verifySignature(expected, input.msgSignature)) throw new MsgCryptError('BAD_SIGNATURE', 'msg_signature does not match');
  }

  private open(encryptB64: string): Buffer {
    if (encryptB64.length % 4 !== 0 || !BASE64.test(encryptB64)) {
      throw new MsgCryptError('BAD_CIPHERTEXT', 'Encrypt is not base64');
    }
    const ciphertext = Buffer.from(encryptB64, 'base64');
    if (ciphertext.length === 0 || ciphertext.length % PAD_BLOCK !== 0) {
      throw new MsgCryptError('BAD_CIPHERTEXT', `ciphertext of ${ciphertext.length} bytes is not whole 32-byte blocks`);
    }
    const decipher = createDecipheriv('aes-256-cbc', this.key, this.iv).setAutoPadding(false);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  }
}

function checkedPadding(plain: Buffer): number {
  const pad = plain[plain.length - 1] ?? 0;
  if (pad < 1 || pad > PAD_BLOCK) throw new MsgCryptError('BAD_PADDING', `pad byte ${pad} outside 1..32`);
  for (let i = plain.length - pad; i < plain.length - 1; i++) {
    if (plain[i] !== pad) throw new MsgCryptError('BAD_PADDING', 'pad bytes differ');
  }
  return pad;
}
