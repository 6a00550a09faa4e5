import { Writable } from 'node:stream';
import { createLogger, maskIdentifiers } from '../src/logger';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, destination };
}

describe('logger', () => {
  it('redacts secrets, tokens, MSISDNs and account numbers at any depth', () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: 'test', destination });
    log.info(
      {
        token: 'tok-abc',
        headers: { authorization: 'Bearer xyz', 'mono-sec-key': 'live_sk_1' },
        request: { body: { msisdn: '260971234567', accountNumber: '0123456789' } },
        accountId: 'acc_1',
      },
      'calling provider',
    );
    const line = lines.join('');
    for (const secret of ['tok-abc', 'Bearer xyz', 'live_sk_1', '260971234567', '0123456789']) expect(line).not.toContain(secret);
    const parsed = JSON.parse(line);
    expect(parsed.accountId).toBe('acc_1');
    expect(parsed.service).toBe('test');
    expect(parsed.level).toBe('info');
    expect(parsed.request.body.msisdn).toBe('[redacted]');
  });

  it('masks phone and account numbers in free-text messages', () => {
    const { lines, destination } = capture();
    createLogger({ service: 'test', destination }).warn('payer +260 97 1234567 failed for account 1234567890123');
    const msg = JSON.parse(lines[0]!).msg as string;
    expect(msg).not.toMatch(/1234567/);
    expect(msg).toContain('***567');
    expect(msg).toContain('***123');
  });

  it('masks secrets and numbers inside error messages, stacks, causes, URLs and headers of any spelling or depth', () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: 'test', destination });
    const err = new Error(
      'GET https://sandbox.momo/v1_0/accountholder/msisdn/260971234567/active?access_token=SEKRET1&subscription-key=SEKRET2 failed',
      {
        cause: new Error('payer 260977654321 rejected: Bearer SEKRET3'),
      },
    );
    Object.assign(err, { headers: { 'Mono-Sec-Key': 'SEKRET4', 'X-Api-Key': 'SEKRET5' } });
    log.error({ err, accountId: '123e4567-e89b-42d3-a456-426614174000' }, 'provider call failed');
    log.error(err); // no message: pino would use err.message as is
    log.warn(
      {
        url: new URL('https://h/p?token=SEKRET6&msisdn=260971111222'),
        request: { options: { headers: { Authorization: 'Basic SEKRET7' } } },
      },
      'retry',
    );
    log.info({ failure: { response: { config: { headers: { authorization: 'Bearer SEKRET8' } } } } }, 'nested five deep');
    log.info('calling https://h/p?apiKey=SEKRET9 with Authorization: Bearer SEKRET10');
    const out = lines.join('');
    for (const secret of ['SEKRET', '260971234567', '260977654321', '260971111222']) expect(out).not.toContain(secret);
    const first = JSON.parse(lines[0]!);
    expect(first.accountId).toBe('123e4567-e89b-42d3-a456-426614174000'); // ids are not numbers to mask
    expect(first.err.message).toContain('msisdn/***567/active?access_token=[redacted]&subscription-key=[redacted] failed');
    expect(first.err.headers).toEqual({ 'Mono-Sec-Key': '[redacted]', 'X-Api-Key': '[redacted]' });
    expect(JSON.parse(lines[1]!).msg).toContain('access_token=[redacted]');
  });

  it('leaves short numbers (amounts, counts) alone', () => {
    expect(maskIdentifiers('synced 150 rows, 2500 ZMW')).toBe('synced 150 rows, 2500 ZMW');
  });
});
