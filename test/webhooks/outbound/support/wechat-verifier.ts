import { createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';

/**
 * A provider's own WXBizMsgCrypt receive side, written from WeChat's documentation with
 * node:crypto alone (not the gateway's msg-crypt): checks msg_signature over the sorted
 * (token, timestamp, nonce, Encrypt), decrypts AES-256-CBC (key = base64 of EncodingAESKey + "=",
 * IV = its first 16 bytes, PKCS#7 padded to 32 bytes), and splits random(16) | length(4) | msg | receiveId.
 */
export function verifyAndDecrypt(options: { token: string; encodingAesKey: string }, target: string, body: string): { xml: string; receiveId: string } {
  const query = new URLSearchParams(target.split('?')[1] ?? '');
  const timestamp = query.get('timestamp') ?? '';
  const nonce = query.get('nonce') ?? '';
  const msgSignature = query.get('msg_signature') ?? '';
  const encrypt = /<Encrypt><!\[CDATA\[([^\]]*)\]\]><\/Encrypt>/.exec(body)?.[1] ?? /<Encrypt>([^<]*)<\/Encrypt>/.exec(body)?.[1];
  if (!encrypt) throw new Error('no Encrypt in the body');
  const expected = createHash('sha1').update([options.token, timestamp, nonce, encrypt].sort().join('')).digest('hex');
  if (expected.length !== msgSignature.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(msgSignature)))
    throw new Error('msg_signature does not match');
  const key = Buffer.from(`${options.encodingAesKey}=`, 'base64');
  const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
  decipher.setAutoPadding(false);
  const padded = Buffer.concat([decipher.update(Buffer.from(encrypt, 'base64')), decipher.final()]);
  const pad = padded[padded.length - 1] ?? 0;
  if (pad < 1 || pad > 32) throw new Error('bad padding');
  const plain = padded.subarray(0, padded.length - pad);
  const length = plain.readUInt32BE(16);
  return { xml: plain.subarray(20, 20 + length).toString('utf8'), receiveId: plain.subarray(20 + length).toString('utf8') };
}
