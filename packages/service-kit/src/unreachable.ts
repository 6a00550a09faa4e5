/**
 * The one line a service prints when a server it needs does not answer at start-up:
 * `mono-worker: cannot reach NATS at 127.0.0.1:4999 (NATS_URL): connection refused`.
 * It names the server, the variable and the address (host:port only: never the user, password
 * or path of the URL) and a reason chosen from the error's code, never the error's own message.
 */
export type ServerKind = 'Postgres' | 'Redis' | 'NATS';

const VARIABLE: Record<ServerKind, string> = { Postgres: 'DATABASE_URL', Redis: 'REDIS_URL', NATS: 'NATS_URL' };
const DEFAULT_PORT: Record<ServerKind, number> = { Postgres: 5432, Redis: 6379, NATS: 4222 };

export class UnreachableError extends Error {
  constructor(
    readonly server: ServerKind,
    readonly address: string,
    readonly reason: string,
  ) {
    super(`cannot reach ${server} at ${address} (${VARIABLE[server]}): ${reason}`);
    this.name = 'UnreachableError';
  }

  get variable(): string {
    return VARIABLE[this.server];
  }
}

/** `host:port` of each server in `url` (NATS takes a comma-separated list; a bare host:port too). */
export function serverAddress(server: ServerKind, url: string): string {
  return url
    .split(',')
    .map((one) => one.trim())
    .filter(Boolean)
    .map((one) => {
      try {
        const u = new URL(one.includes('://') ? one : `nats://${one}`);
        return `${u.hostname}:${u.port || DEFAULT_PORT[server]}`;
      } catch {
        return '(unparseable URL)';
      }
    })
    .join(',');
}

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const own = 'code' in err ? (err as { code: unknown }).code : undefined;
  if (typeof own === 'string') return own;
  const cause = 'cause' in err ? (err as { cause: unknown }).cause : undefined;
  return cause !== undefined ? codeOf(cause) : undefined;
}

/**
 * A short reason for a failed connect. Only fixed phrases and error codes: server and client
 * messages are not trusted to be free of secrets. `limit` names the timeout variable.
 */
export function unreachableReason(err: unknown, limit: { variable: string; ms: number }, database?: string): string {
  const code = codeOf(err);
  const name = err instanceof Error ? err.name : '';
  const message = err instanceof Error ? err.message : '';
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'ECONNRESET':
      return 'connection reset';
    case 'ETIMEDOUT':
      return `no answer within ${limit.ms} ms (${limit.variable})`;
    case '28P01':
    case '28000':
      return 'authentication failed';
    case '3D000':
      return `database ${database ? `"${database}" ` : ''}does not exist`;
    case '57P03':
      return 'the server is starting up or shutting down';
    default:
      break;
  }
  // Clients without codes (nats.js, ioredis): their fixed messages.
  if (name === 'TimeoutError' || /^timeout$|timed? ?out|connection timeout/i.test(message))
    return `no answer within ${limit.ms} ms (${limit.variable})`;
  if (/connection refused/i.test(message)) return 'connection refused';
  if (/^(WRONGPASS|NOAUTH)|authori[sz]ation violation|authentication/i.test(message)) return 'authentication failed';
  return code ?? (name || 'failed');
}
