import { serverAddress, UnreachableError, unreachableReason } from './unreachable';

describe('the unreachable-server line', () => {
  it('names the server, the variable and host:port, never the user or password of the URL', () => {
    const err = new UnreachableError(
      'Postgres',
      serverAddress('Postgres', 'postgres://svc:hunter2@db.internal/intellifin'),
      'connection refused',
    );
    expect(err.message).toBe('cannot reach Postgres at db.internal:5432 (DATABASE_URL): connection refused');
    expect(serverAddress('Redis', 'rediss://:s3cret@cache:6380/2')).toBe('cache:6380');
    expect(serverAddress('NATS', 'nats://u:p@a:4222, nats://b:4999')).toBe('a:4222,b:4999');
    expect(serverAddress('NATS', '127.0.0.1:4999')).toBe('127.0.0.1:4999');
    expect(serverAddress('NATS', 'nats://[::1')).toBe('(unparseable URL)');
  });

  it('gives a reason from the error code or the client fixed message, never a server message', () => {
    const limit = { variable: 'NATS_CONNECT_TIMEOUT_MS', ms: 1500 };
    const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });
    expect(unreachableReason(coded('ECONNREFUSED'), limit)).toBe('connection refused');
    expect(unreachableReason(coded('ENOTFOUND'), limit)).toBe('host not found');
    expect(unreachableReason(coded('ETIMEDOUT'), limit)).toBe('no answer within 1500 ms (NATS_CONNECT_TIMEOUT_MS)');
    expect(unreachableReason(coded('28P01', 'password authentication failed for user "svc" hunter2'), limit)).toBe('authentication failed');
    expect(unreachableReason(coded('3D000'), limit, 'intellifin')).toBe('database "intellifin" does not exist');
    expect(unreachableReason(new Error('connection refused'), limit)).toBe('connection refused');
    expect(unreachableReason(Object.assign(new Error('timeout'), { name: 'TimeoutError' }), limit)).toMatch(/^no answer within 1500 ms/);
    expect(unreachableReason(new Error('WRONGPASS invalid username-password pair'), limit)).toBe('authentication failed');
    // Unknown: the code or the class, not the message (which could hold anything).
    expect(unreachableReason(coded('EWEIRD', 'password=hunter2'), limit)).toBe('EWEIRD');
    expect(unreachableReason(new TypeError('url has password=hunter2'), limit)).toBe('TypeError');
    expect(unreachableReason(Object.assign(new Error('outer'), { cause: coded('ECONNRESET') }), limit)).toBe('connection reset');
  });
});
