import type { ImageFetcher } from '../../lib/image-fetch.js';
import { ImageFetchError } from '../../lib/image-fetch.js';
import type { Clock } from '../../lib/clock.js';
import type { TenantContext } from '../context.js';
import { type UserError, userError } from '../errors.js';
import type { LiveCalls } from './live-calls.js';

/** WeChat's limit for live images (cover, share, feeds, goods). */
export const LIVE_IMAGE_MAX_BYTES = 2 * 1024 * 1024;
/** Temporary media live three days at WeChat. */
export const MEDIA_LIFETIME_MS = 3 * 86_400_000;

const KINDS = [
  { type: 'image/jpeg', ext: 'jpg', magic: [0xff, 0xd8, 0xff] },
  { type: 'image/png', ext: 'png', magic: [0x89, 0x50, 0x4e, 0x47] },
  { type: 'image/gif', ext: 'gif', magic: [0x47, 0x49, 0x46, 0x38] },
  { type: 'image/bmp', ext: 'bmp', magic: [0x42, 0x4d] },
] as const;

/** The image kind from its first bytes (the name or a server's content type can lie). */
export function sniffImage(bytes: Uint8Array): (typeof KINDS)[number] | undefined {
  return KINDS.find((k) => k.magic.every((b, i) => bytes[i] === b));
}

export interface UploadLiveImageInput {
  appId: string;
  /** An https URL the gateway fetches (through the SSRF guard). */
  imageUrl?: string | null;
  /** Or the bytes, base64 (bounded by the GraphQL body limit, 1 MiB by default). */
  dataBase64?: string | null;
}

export interface UploadedImage {
  mediaId: string;
  expiresAt: Date;
  bytes: number;
  contentType: string;
}

/** Hands a console's image to WeChat as temporary media (media quota), for room and goods images. */
export class LiveMediaService {
  constructor(private readonly deps: { calls: LiveCalls; clock: Clock; fetchImage?: ImageFetcher }) {}

  async upload(ctx: TenantContext, input: UploadLiveImageInput): Promise<{ image: UploadedImage | null; userErrors: UserError[] }> {
    const refused = await this.deps.calls.checkMerchant(ctx, input.appId, ['input', 'appId']);
    if (refused) return { image: null, userErrors: [refused] };
    const read = await this.bytesOf(input);
    if ('error' in read) return { image: null, userErrors: [read.error] };
    const { bytes } = read;
    if (bytes.length === 0) return { image: null, userErrors: [userError('LIVE_MEDIA_INVALID', 'The image is empty.', ['input'])] };
    if (bytes.length > LIVE_IMAGE_MAX_BYTES) {
      return { image: null, userErrors: [userError('LIVE_MEDIA_INVALID', `The image is ${bytes.length} bytes.`, ['input'])] };
    }
    const kind = sniffImage(bytes);
    if (!kind) return { image: null, userErrors: [userError('LIVE_MEDIA_INVALID', 'The bytes are not a JPEG, PNG, GIF or BMP image.', ['input'])] };
    const uploaded = await this.deps.calls.call(
      ctx,
      input.appId,
      {
        endpoint: 'media_upload',
        operation: 'uploadLiveImage',
        request: { type: 'image', bytes: bytes.length, contentType: kind.type, from: input.imageUrl ? 'url' : 'base64' },
      },
      (c, token) => c.uploadImage(token, { filename: `image.${kind.ext}`, contentType: kind.type, bytes }),
    );
    if (!uploaded.ok) return { image: null, userErrors: [uploaded.error] };
    const createdMs = uploaded.value.createdAt > 0 ? uploaded.value.createdAt * 1000 : this.deps.clock.now();
    return {
      image: { mediaId: uploaded.value.mediaId, expiresAt: new Date(createdMs + MEDIA_LIFETIME_MS), bytes: bytes.length, contentType: kind.type },
      userErrors: [],
    };
  }

  private async bytesOf(input: UploadLiveImageInput): Promise<{ bytes: Uint8Array } | { error: UserError }> {
    const hasUrl = Boolean(input.imageUrl);
    const hasData = Boolean(input.dataBase64);
    if (hasUrl === hasData) return { error: userError('INVALID_INPUT', 'Give exactly one of imageUrl and dataBase64.', ['input']) };
    if (input.dataBase64) {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(input.dataBase64)) return { error: userError('INVALID_INPUT', 'dataBase64 is not base64.', ['input', 'dataBase64']) };
      return { bytes: Buffer.from(input.dataBase64, 'base64') };
    }
    if (!this.deps.fetchImage)
      return { error: userError('INVALID_INPUT', 'This gateway does not fetch images by URL; send dataBase64.', ['input', 'imageUrl']) };
    try {
      return { bytes: (await this.deps.fetchImage(input.imageUrl as string, LIVE_IMAGE_MAX_BYTES)).bytes };
    } catch (err) {
      if (!(err instanceof ImageFetchError)) throw err;
      return { error: userError('LIVE_MEDIA_INVALID', err.message, ['input', 'imageUrl']) };
    }
  }
}
