import type { Clock } from '../lib/clock.js';
import { MsgCrypt, MsgCryptError } from '../wechat/wire/msg-crypt.js';

/** What verifying a push needs of a tenant's WXBizMsgCrypt. */
export type PushCrypt = Pick<MsgCrypt, 'verifyAndDecrypt' | 'verifyEchostr' | 'verifyPlainSignature'>;

export interface CryptCredentials {
  token: string;
  encodingAesKey: string;
}

/**
 * A tenant's current token and EncodingAESKey, and, until `previousUntil`, the ones they replaced.
 * WeChat may switch the token and the key at different moments (they are separate fields in the
 * console), so every pairing of the two tokens with the two keys is tried; the current pair first,
 * and a push none of them opens is refused with the current pair's reason.
 */
export class RotatingCrypt implements PushCrypt {
  private readonly current: MsgCrypt;
  private readonly older: MsgCrypt[];
  /** Until when (ms since the epoch) the older pairs are tried; 0 without any. */
  readonly previousUntil: number;

  constructor(
    current: CryptCredentials,
    receiveId: string,
    private readonly clock: Clock,
    previous?: CryptCredentials & { until: number },
  ) {
    this.current = new MsgCrypt({ ...current, appId: receiveId });
    this.previousUntil = previous?.until ?? 0;
    const pairs: CryptCredentials[] = [];
    if (previous) {
      for (const token of unique([current.token, previous.token])) {
        for (const encodingAesKey of unique([current.encodingAesKey, previous.encodingAesKey])) {
          if (token !== current.token || encodingAesKey !== current.encodingAesKey) pairs.push({ token, encodingAesKey });
        }
      }
    }
    this.older = pairs.map((pair) => new MsgCrypt({ ...pair, appId: receiveId }));
  }

  verifyAndDecrypt(input: Parameters<MsgCrypt['verifyAndDecrypt']>[0]): string {
    return this.first((crypt) => crypt.verifyAndDecrypt(input));
  }

  verifyEchostr(input: Parameters<MsgCrypt['verifyEchostr']>[0]): string {
    return this.first((crypt) => crypt.verifyEchostr(input));
  }

  verifyPlainSignature(signature: string, timestamp: string, nonce: string): boolean {
    return this.candidates().some((crypt) => crypt.verifyPlainSignature(signature, timestamp, nonce));
  }

  /** The older pairs only while the overlap window is open (read on every push: tests move the clock). */
  private candidates(): MsgCrypt[] {
    return this.older.length > 0 && this.clock.now() < this.previousUntil ? [this.current, ...this.older] : [this.current];
  }

  private first<T>(attempt: (crypt: MsgCrypt) => T): T {
    let firstError: unknown;
    for (const crypt of this.candidates()) {
      try {
        return attempt(crypt);
      } catch (err) {
        if (!(err instanceof MsgCryptError)) throw err;
        firstError ??= err;
      }
    }
    throw firstError;
  }
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
