import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { type RealApp, startRealApp } from './support/real-app.js';

let env: TestEnv;
let real: RealApp;
let webhookPath: string;
beforeAll(async () => {
  env = await createTestEnv();
  real = await startRealApp(env, { LOG_LEVEL: 'warn' });
  const t = await real.tenant();
  webhookPath = `/webhooks/wechat/${t.id}/auth?timestamp=1&nonce=n&encrypt_type=aes&msg_signature=x`;
});
afterAll(async () => {
  await real?.stop();
  await env?.cleanup();
});

/**
 * Uploads `bytes` in 64 KiB writes as a real client does (declared length, or chunked), and
 * resolves with the status it read, or the socket error it got instead.
 */
function upload(path: string, bytes: number, mode: 'declared' | 'chunked', contentType: string): Promise<number | string> {
  const { hostname, port } = new URL(real.url);
  return new Promise((resolve) => {
    const req = request({
      host: hostname,
      port,
      path,
      method: 'POST',
      headers: { 'content-type': contentType, ...(mode === 'declared' ? { 'content-length': String(bytes) } : {}) },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        const n = Math.min(chunk.length, bytes - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

const MiB = 1024 * 1024;

describe('bodies over the 1 MiB limit', () => {
  for (const size of [2, 8, 16]) {
    for (const mode of ['declared', 'chunked'] as const) {
      it(`answers a readable 413 to ${size} MiB (${mode}) on /graphql and on the webhook path`, async () => {
        expect(await upload('/graphql', size * MiB, mode, 'application/json')).toBe(413);
        expect(await upload(webhookPath, size * MiB, mode, 'text/xml')).toBe(413);
      });
    }
  }

  it('keeps serving after them', async () => {
    expect((await real.fetch('/healthz')).status).toBe(200);
  });
});
