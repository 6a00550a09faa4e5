import { headerSafe } from '../src/dead-letters';

describe('dead-letter headers carry no personal data or secrets', () => {
  it('masks MSISDNs, account numbers and bearer tokens, keeps one bounded line', () => {
    const reason = 'permanent payee_not_found: payer 260971234567 account 0123456789\nAuthorization: Bearer abc.def.ghi';
    const v = headerSafe(reason);
    expect(v).not.toContain('260971234567');
    expect(v).not.toContain('0123456789');
    expect(v).not.toContain('abc.def.ghi');
    expect(v).toContain('***567');
    expect(v).not.toMatch(/[\r\n]/);
    expect(headerSafe('x'.repeat(2_000)).length).toBeLessThanOrEqual(500);
  });
});
