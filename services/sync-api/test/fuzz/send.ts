import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { Agent, request } from 'node:http';
import type { FuzzRequest } from './requests';

/**
 * Sends one fuzz request over a real socket (node:http, keep-alive) exactly as generated (no
 * normalisation of the path), and reads the answer. An event stream is cut after its headers.
 * Client-side failures (the server reset the connection, nothing answered in time) are results
 * too, never exceptions.
 */
export interface FuzzResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Set when no HTTP answer was read: reset, timeout, … */
  transportError?: string;
}

export function fuzzAgent(maxSockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets });
}

/**
 * Sends `req`; once more on a fresh connection when a kept-alive connection turned out to be
 * closed by the server after its previous answer (node's documented `reusedSocket` race, e.g. after
 * a 413 whose body the server did not read). A failure on a fresh connection is the server's.
 */
export async function send(baseUrl: string, agent: Agent, req: FuzzRequest, timeoutMs: number): Promise<FuzzResponse> {
  const first = await sendOnce(baseUrl, agent, req, timeoutMs);
  return first.reusedSocketClosed ? sendOnce(baseUrl, false, req, timeoutMs) : first;
}

function sendOnce(
  baseUrl: string,
  agent: Agent | false,
  req: FuzzRequest,
  timeoutMs: number,
): Promise<FuzzResponse & { reusedSocketClosed?: boolean }> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: FuzzResponse & { reusedSocketClosed?: boolean }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    let clientReq: ReturnType<typeof request>;
    try {
      clientReq = request(
        {
          host: url.hostname,
          port: url.port,
          method: req.method,
          path: req.path,
          // A body always with its length: node sends a GET/HEAD/DELETE body unframed otherwise.
          headers: req.body === undefined ? req.headers : { ...req.headers, 'content-length': String(Buffer.byteLength(req.body)) },
          agent,
        },
        (res) => {
          const base = { status: res.statusCode ?? 0, headers: res.headers };
          if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
            res.destroy();
            return done({ ...base, body: '' });
          }
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => done({ ...base, body: decoded(Buffer.concat(chunks), res.headers['content-encoding']) }));
          res.on('error', (err) => done({ ...base, body: Buffer.concat(chunks).toString('utf8'), transportError: String(err) }));
        },
      );
    } catch (err) {
      // node refused to send it (an invalid header or path): a generator bug, reported as such
      return resolve({ status: 0, headers: {}, body: '', transportError: `client refused: ${String(err)}` });
    }
    const timer = setTimeout(() => {
      clientReq.destroy(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    clientReq.on('error', (err: NodeJS.ErrnoException) =>
      done({
        status: 0,
        headers: {},
        body: '',
        transportError: String(err),
        reusedSocketClosed: clientReq.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE'),
      }),
    );
    if (req.body !== undefined) clientReq.end(req.body);
    else clientReq.end();
  });
}

/** Runs `fn` over `items` with at most `concurrency` in flight. */
export async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: concurrency }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}

/** The body as the client reads it: decompressed per Content-Encoding (the fuzz asks for gzip, br, deflate at random). */
function decoded(raw: Buffer, encoding: string | undefined): string {
  try {
    if (encoding === 'gzip') return gunzipSync(raw).toString('utf8');
    if (encoding === 'br') return brotliDecompressSync(raw).toString('utf8');
    if (encoding === 'deflate') return inflateSync(raw).toString('utf8');
  } catch (err) {
    return `<undecodable ${encoding} body: ${String(err)}>`;
  }
  return raw.toString('utf8');
}
