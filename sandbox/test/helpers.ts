import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const EPOCH = '2026-03-02T00:00:00.000Z';

export interface Received {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** A tiny HTTP server standing in for the system under test's webhook/callback endpoint. */
export async function receiver(status = 200): Promise<{
  url: string;
  received: Received[];
  setStatus(s: number): void;
  waitFor(n: number, ms?: number): Promise<Received[]>;
  close(): Promise<void>;
}> {
  const received: Received[] = [];
  let code = status;
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      let body: unknown = data;
      try {
        body = JSON.parse(data);
      } catch {
        /* keep raw */
      }
      received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      res.writeHead(code).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    setStatus(s: number) {
      code = s;
    },
    async waitFor(n: number, ms = 5_000) {
      const start = Date.now();
      while (received.length < n && Date.now() - start < ms) await new Promise((r) => setTimeout(r, 10));
      return received;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export async function json(res: Response): Promise<any> {
  return JSON.parse(await res.text());
}

export async function post(url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export function basic(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}
