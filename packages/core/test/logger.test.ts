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

  it('leaves short numbers (amounts, counts) alone', () => {
    expect(maskIdentifiers('synced 150 rows, 2500 ZMW')).toBe('synced 150 rows, 2500 ZMW');
  });
});
