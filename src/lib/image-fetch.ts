import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';

export interface FetchedImage {
  bytes: Uint8Array;
  /** What the server said; the caller sniffs the bytes rather than trusting it. */
  contentType: string;
}

/** Why a fetch gave no image, for a user error. */
export class ImageFetchError extends Error {
  override readonly name = 'ImageFetchError';
}

export type ImageFetcher = (url: string, maxBytes: number) => Promise<FetchedImage>;

/**
 * GETs an image through request-filtering-agent (the outbound webhooks' SSRF guard: every address
 * checked at connect time, after DNS resolution, so a name that later resolves inside is refused
 * too). http only when allowed; no redirects; bounded in bytes and time.
 */
export function createImageFetcher(options: { allowHttp: boolean; allowPrivateAddresses: boolean; timeoutMs?: number }): {
  fetch: ImageFetcher;
  close(): void;
} {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const filter = { allowPrivateIPAddress: options.allowPrivateAddresses, allowMetaIPAddress: false, keepAlive: false };
  const agents = { http: new RequestFilteringHttpAgent(filter), https: new RequestFilteringHttpsAgent(filter) };
  const fetch: ImageFetcher = (raw, maxBytes) =>
    new Promise<FetchedImage>((resolve, reject) => {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        reject(new ImageFetchError('imageUrl is not a URL.'));
        return;
      }
      const isHttps = url.protocol === 'https:';
      if (!isHttps && !(url.protocol === 'http:' && options.allowHttp)) {
        reject(new ImageFetchError(`imageUrl must be https${options.allowHttp ? ' or http' : ''}.`));
        return;
      }
      const outgoing = (isHttps ? httpsRequest : httpRequest)(url, {
        method: 'GET',
        agent: isHttps ? agents.https : agents.http,
        headers: { accept: 'image/*', 'user-agent': 'wxlive-gateway-images' },
      });
      const timer = setTimeout(() => outgoing.destroy(new ImageFetchError(`imageUrl gave no complete answer within ${timeoutMs} ms.`)), timeoutMs);
      outgoing.on('error', (err) => {
        clearTimeout(timer);
        reject(err instanceof ImageFetchError ? err : new ImageFetchError(`imageUrl could not be fetched: ${err.message}.`));
      });
      outgoing.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) {
          res.resume();
          outgoing.destroy(new ImageFetchError(`imageUrl answered HTTP ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}.`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            outgoing.destroy(new ImageFetchError(`imageUrl is over ${maxBytes} bytes.`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ bytes: Buffer.concat(chunks), contentType: String(res.headers['content-type'] ?? '') });
        });
      });
      outgoing.end();
    });
  return {
    fetch,
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
