import WebSocket from 'ws';

export interface Subscriber {
  socket: WebSocket;
  close(): void;
}

export interface SubscribeOptions {
  /** ws://127.0.0.1:port/graphql */
  url: string;
  apiKey: string;
  query: string;
  variables?: Record<string, unknown>;
  /** Each `next` payload, as it arrives. */
  onNext: (payload: unknown) => void;
  onError?: (error: unknown) => void;
}

/**
 * One graphql-transport-ws subscription over a raw `ws` socket: connection_init with the API
 * key, one subscribe, pongs to pings. Resolves once the subscribe is sent after the ack (the
 * server starts listening for changes while it handles that message). Kept this small so one
 * process can hold ten thousand of them.
 */
export function subscribe(o: SubscribeOptions): Promise<Subscriber> {
  if (!o.url.startsWith('ws://127.0.0.1:')) throw new Error(`benchmarks connect to 127.0.0.1 only, not ${o.url}`);
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(o.url, 'graphql-transport-ws', { perMessageDeflate: false });
    let acked = false;
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: o.apiKey } })));
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; id?: string; payload?: unknown };
      switch (message.type) {
        case 'connection_ack':
          acked = true;
          socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: o.query, variables: o.variables ?? {} } }));
          resolve({ socket, close: () => socket.close() });
          break;
        case 'next':
          o.onNext(message.payload);
          break;
        case 'ping':
          socket.send('{"type":"pong"}');
          break;
        case 'error':
          o.onError?.(message.payload);
          break;
      }
    });
    socket.once('error', (err) => {
      if (!acked) reject(err);
      else o.onError?.(err);
    });
    socket.once('close', (code) => {
      if (!acked) reject(new Error(`closed (${code}) before connection_ack`));
    });
  });
}
