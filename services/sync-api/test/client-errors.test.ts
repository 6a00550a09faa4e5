import { Agent, request } from 'node:http';
import { startApi, type ApiEnv } from './helpers';

/**
 * Requests node's parser refuses (here a request line over the header limit) are answered in a
 * form every client can read: the JSON error body, and for HEAD no body at all (a client that sent
 * HEAD reads body bytes as the start of the next response). Found by the REST fuzz, seed 614635729.
 */
let env: ApiEnv;
beforeAll(async () => {
  env = await startApi();
});
afterAll(() => env.close());

function send(method: string, path: string, agent: Agent): Promise<{ status: number; body: string; error?: string }> {
  const url = new URL(env.baseUrl);
  return new Promise((resolve) => {
    const req = request({ host: url.hostname, port: url.port, method, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', (err) => resolve({ status: 0, body: '', error: String(err) }));
    req.end();
  });
}

const LONG = `/callbacks/airtel/${'a'.repeat(20_000)}`;

it('a HEAD request over the header limit gets a bodiless 431 the client can parse', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    expect(await send('HEAD', LONG, agent)).toEqual({ status: 431, body: '' });
    // The next request (a new connection: the refused one was closed) is answered normally.
    expect((await send('GET', '/healthz', agent)).error).toBeUndefined();
  } finally {
    agent.destroy();
  }
});

it('a GET over the header limit gets a 431 with the JSON error body', async () => {
  const agent = new Agent({ keepAlive: true });
  try {
    const r = await send('GET', LONG, agent);
    expect(r.status).toBe(431);
    expect(JSON.parse(r.body)).toEqual({ error: 'headers_too_large', message: 'the request could not be read' });
  } finally {
    agent.destroy();
  }
});
