import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebhookSender } from '../../../src/jobs/webhook-sender.js';
import { Receiver } from './support/receiver.js';

let receiver: Receiver;

beforeAll(async () => {
  receiver = await new Receiver().start();
  receiver.hang('/hang');
  receiver.on('/broken', (_req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('partial');
    setImmediate(() => res.socket?.destroy());
  });
  receiver.on('/big', (_req, res) => res.writeHead(500).end('x'.repeat(200_000)));
});

afterAll(async () => {
  await receiver?.stop();
});

const request = (path: string) => ({ url: `${receiver.url}${path}`, headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') });

describe('the webhook sender', () => {
  it('refuses loopback and private addresses at connect time unless allowed, whatever the URL check said', async () => {
    const before = receiver.received.length;
    const strict = createWebhookSender({ allowPrivateAddresses: false });
    // "localhost" is a name: the refusal comes after DNS, where a rebinding name would be caught too.
    for (const url of [`${receiver.url}/ok`, receiver.url.replace('127.0.0.1', 'localhost')]) {
      const result = await strict.send({ ...request('/ok'), url });
      expect(result.statusCode).toBeNull();
      expect(result.error).toMatch(/not allowed/);
    }
    strict.close();
    expect(receiver.received.length).toBe(before);
    const loose = createWebhookSender({ allowPrivateAddresses: true });
    expect(await loose.send(request('/ok'))).toMatchObject({ statusCode: 200, error: null, response: 'ok' });
    loose.close();
  });

  it('gives up on an endpoint that does not answer within the timeout', async () => {
    const sender = createWebhookSender({ allowPrivateAddresses: true, timeoutMs: 300 });
    const result = await sender.send(request('/hang'));
    expect(result).toMatchObject({ statusCode: null, error: 'no complete answer within 300 ms' });
    expect(result.latencyMs).toBeGreaterThanOrEqual(290);
    expect(result.latencyMs).toBeLessThan(2_000);
    sender.close();
  });

  it('counts an answer cut off mid-body as no answer, and keeps 1 KiB of a large one', async () => {
    const sender = createWebhookSender({ allowPrivateAddresses: true });
    const broken = await sender.send(request('/broken'));
    expect(broken.statusCode).toBeNull();
    expect(broken.error).toMatch(/after HTTP 200/);
    const big = await sender.send(request('/big'));
    expect(big.statusCode).toBe(500);
    expect(big.response).toHaveLength(1024);
    sender.close();
  });
});
