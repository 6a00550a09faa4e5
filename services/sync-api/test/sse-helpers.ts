import { request as httpRequest, type IncomingMessage } from 'node:http';

export interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
}

/** An open `text/event-stream` response, parsed as it arrives (node:http: no decompression, no buffering). */
export interface SseStream {
  res: IncomingMessage;
  events: SseEvent[];
  /** Every raw byte received, as text (heartbeat comments included). */
  raw(): string;
  ended: Promise<void>;
  close(): void;
}

export function openSse(baseUrl: string, path: string, headers: Record<string, string>): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, baseUrl), { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      let text = '';
      let pending = '';
      const events: SseEvent[] = [];
      const ended = new Promise<void>((done) => {
        res.on('end', done);
        res.on('close', done);
        res.on('error', () => done());
      });
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        pending += chunk;
        let at: number;
        while ((at = pending.indexOf('\n\n')) >= 0) {
          const block = pending.slice(0, at);
          pending = pending.slice(at + 2);
          const e: SseEvent = {};
          for (const line of block.split('\n')) {
            const m = /^(id|event|data): ?(.*)$/.exec(line);
            if (m) e[m[1] as keyof SseEvent] = m[2];
          }
          if (e.event || e.data) events.push(e);
        }
      });
      resolve({ res, events, raw: () => text, ended, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A text body of a non-stream answer (401, 400). */
export async function bodyOf(s: SseStream): Promise<string> {
  await s.ended;
  return s.raw();
}
