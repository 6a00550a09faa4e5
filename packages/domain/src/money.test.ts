import {
  CURRENCIES,
  CURRENCY_CODES,
  absMoney,
  addMoney,
  compareMoney,
  currencyExponent,
  formatMinor,
  formatMoney,
  isCurrencyCode,
  isMoney,
  moneyEquals,
  moneyFromDecimal,
  moneyFromJson,
  moneyFromMajorNumber,
  moneyFromMinor,
  moneyToJson,
  negateMoney,
  parseCurrency,
  parseDecimalToMinor,
  subtractMoney,
  sumMoney,
  zero,
} from './money';
import { DomainError } from './errors';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof DomainError ? err.code : `non-domain:${String(err)}`;
  }
  return undefined;
}

describe('currencies', () => {
  it('knows the ISO exponents of the markets we serve', () => {
    expect(currencyExponent('ZMW')).toBe(2);
    expect(currencyExponent('NGN')).toBe(2);
    expect(currencyExponent('KES')).toBe(2);
    expect(currencyExponent('GHS')).toBe(2);
    expect(currencyExponent('TZS')).toBe(2);
    expect(currencyExponent('MWK')).toBe(2);
    expect(currencyExponent('USD')).toBe(2);
    expect(currencyExponent('EUR')).toBe(2);
    expect(currencyExponent('ZAR')).toBe(2);
    for (const zeroDecimal of ['UGX', 'RWF', 'XAF', 'XOF'] as const) expect(currencyExponent(zeroDecimal)).toBe(0);
  });

  it('lists every currency once, all upper-case 3-letter codes', () => {
    expect(new Set(CURRENCY_CODES).size).toBe(CURRENCY_CODES.length);
    for (const c of CURRENCY_CODES) expect(c).toMatch(/^[A-Z]{3}$/);
    expect(CURRENCY_CODES).toEqual(Object.keys(CURRENCIES));
  });

  it('rejects unknown, lower-case and non-string codes', () => {
    expect(isCurrencyCode('ZMW')).toBe(true);
    expect(isCurrencyCode('zmw')).toBe(false);
    expect(isCurrencyCode('XYZ')).toBe(false);
    expect(isCurrencyCode('toString')).toBe(false);
    expect(isCurrencyCode(undefined)).toBe(false);
    expect(codeOf(() => parseCurrency('BTC'))).toBe('unknown_currency');
    expect(codeOf(() => parseCurrency(42))).toBe('unknown_currency');
  });
});

describe('parseDecimalToMinor', () => {
  it.each([
    ['1500.50', 'ZMW', 150050n],
    ['1500', 'ZMW', 150000n],
    ['1500.5', 'ZMW', 150050n],
    ['-12.3', 'NGN', -1230n],
    ['+7', 'KES', 700n],
    ['0', 'GHS', 0n],
    ['0.01', 'USD', 1n],
    ['-0.00', 'USD', 0n],
    ['000123.40', 'ZAR', 12340n],
    ['1500', 'UGX', 1500n],
    ['1500.00', 'UGX', 1500n],
    ['230486.650', 'ZMW', 23048665n],
    ['250', 'XOF', 250n],
  ])('parses %s %s exactly as %s minor units', (input, currency, expected) => {
    expect(parseDecimalToMinor(input, currency)).toBe(expected);
  });

  it('is exact where floating point is not (0.1 + 0.2 style and beyond 2^53)', () => {
    expect(parseDecimalToMinor('0.29', 'USD')).toBe(29n); // 0.29 * 100 = 28.999999999999996 in floats
    expect(parseDecimalToMinor('1.15', 'USD')).toBe(115n); // 1.15 * 100 = 114.99999999999999
    expect(parseDecimalToMinor('92233720368547758.07', 'NGN')).toBe(9223372036854775807n);
    expect(parseDecimalToMinor('123456789012345678901234567890.12', 'ZMW')).toBe(12345678901234567890123456789012n);
  });

  it('never yields a negative zero and keeps the sign for negatives', () => {
    expect(Object.is(parseDecimalToMinor('-0', 'ZMW'), 0n)).toBe(true);
    expect(parseDecimalToMinor('-0.01', 'ZMW')).toBe(-1n);
  });

  it.each([
    ['1500.505', 'ZMW'],
    ['1500.5', 'UGX'],
    ['0.001', 'USD'],
    ['1.10001', 'NGN'],
  ])('rejects %s for %s: more precision than the currency has', (input, currency) => {
    expect(codeOf(() => parseDecimalToMinor(input, currency))).toBe('invalid_amount');
  });

  it.each([
    '',
    ' ',
    ' 12',
    '12 ',
    '1,500.00',
    '1 500',
    '.5',
    '5.',
    '1e3',
    '1E3',
    '1.5e2',
    '0x10',
    'NaN',
    'Infinity',
    '-',
    '+',
    '--1',
    '+-1',
    '1.2.3',
    '12abc',
    '١٢',
    '１２',
    '12\n',
  ])('rejects garbage %j', (input) => {
    expect(codeOf(() => parseDecimalToMinor(input, 'ZMW'))).toBe('invalid_amount');
  });

  it('rejects non-string input and unknown currencies', () => {
    expect(codeOf(() => parseDecimalToMinor(12 as unknown as string, 'ZMW'))).toBe('invalid_amount');
    expect(codeOf(() => parseDecimalToMinor('12', 'ABC'))).toBe('unknown_currency');
  });
});

describe('formatMinor', () => {
  it.each([
    [150050n, 'ZMW', '1500.50'],
    [0n, 'ZMW', '0.00'],
    [1n, 'USD', '0.01'],
    [-1n, 'USD', '-0.01'],
    [-1230n, 'NGN', '-12.30'],
    [1500n, 'UGX', '1500'],
    [-7n, 'XAF', '-7'],
    [9223372036854775807n, 'NGN', '92233720368547758.07'],
  ])('formats %s %s as %s', (minor, currency, expected) => {
    expect(formatMinor(minor, currency)).toBe(expected);
  });

  it('round-trips with parse for every currency and a spread of values', () => {
    const values = [0n, 1n, -1n, 9n, 10n, 99n, 100n, 101n, -12345n, 10n ** 20n + 7n];
    for (const c of CURRENCY_CODES) {
      for (const v of values) expect(parseDecimalToMinor(formatMinor(v, c), c)).toBe(v);
    }
  });

  it('formatMoney uses the money currency', () => {
    expect(formatMoney(moneyFromMinor(123456n, 'KES'))).toBe('1234.56');
    expect(formatMoney(moneyFromMinor(123456n, 'RWF'))).toBe('123456');
  });
});

describe('constructing money', () => {
  it('accepts bigint, safe integer numbers and integer strings as minor units', () => {
    expect(moneyFromMinor(5n, 'ZMW')).toEqual({ minor: 5n, currency: 'ZMW' });
    expect(moneyFromMinor(4523100, 'NGN').minor).toBe(4523100n);
    expect(moneyFromMinor('-42', 'NGN').minor).toBe(-42n);
  });

  it('rejects fractional, unsafe or non-integer minor units', () => {
    expect(codeOf(() => moneyFromMinor(1.5, 'ZMW'))).toBe('invalid_amount');
    expect(codeOf(() => moneyFromMinor(2 ** 53, 'ZMW'))).toBe('invalid_amount');
    expect(codeOf(() => moneyFromMinor(Number.NaN, 'ZMW'))).toBe('invalid_amount');
    expect(codeOf(() => moneyFromMinor('1.0', 'ZMW'))).toBe('invalid_amount');
    expect(codeOf(() => moneyFromMinor('', 'ZMW'))).toBe('invalid_amount');
    expect(codeOf(() => moneyFromMinor(1n, 'zmw'))).toBe('unknown_currency');
  });

  it('returns frozen values', () => {
    const m = moneyFromDecimal('1.00', 'ZMW');
    expect(Object.isFrozen(m)).toBe(true);
  });

  it('moneyFromMajorNumber parses the number exactly via its shortest decimal form', () => {
    expect(moneyFromMajorNumber(150, 'ZMW').minor).toBe(15000n);
    expect(moneyFromMajorNumber(150.5, 'ZMW').minor).toBe(15050n);
    expect(moneyFromMajorNumber(0.29, 'USD').minor).toBe(29n);
    expect(moneyFromMajorNumber(1500, 'UGX').minor).toBe(1500n);
    expect(codeOf(() => moneyFromMajorNumber(0.001, 'ZMW'))).toBe('invalid_amount');
    expect(codeOf(() => moneyFromMajorNumber(1e21, 'ZMW'))).toBe('invalid_amount'); // prints as 1e+21
    expect(codeOf(() => moneyFromMajorNumber(Number.POSITIVE_INFINITY, 'ZMW'))).toBe('invalid_amount');
    expect(codeOf(() => moneyFromMajorNumber('150' as unknown as number, 'ZMW'))).toBe('invalid_amount');
  });

  it('isMoney recognises only bigint minor units with a known currency', () => {
    expect(isMoney(zero('ZMW'))).toBe(true);
    expect(isMoney({ minor: 1, currency: 'ZMW' })).toBe(false);
    expect(isMoney({ minor: 1n, currency: 'XXX' })).toBe(false);
    expect(isMoney(null)).toBe(false);
  });
});

describe('arithmetic', () => {
  const a = moneyFromDecimal('10.50', 'ZMW');
  const b = moneyFromDecimal('0.75', 'ZMW');
  const usd = moneyFromDecimal('1.00', 'USD');

  it('adds and subtracts in one currency', () => {
    expect(addMoney(a, b)).toEqual({ minor: 1125n, currency: 'ZMW' });
    expect(subtractMoney(b, a)).toEqual({ minor: -975n, currency: 'ZMW' });
    expect(sumMoney([a, b, b])).toEqual({ minor: 1200n, currency: 'ZMW' });
    expect(sumMoney([], 'UGX')).toEqual({ minor: 0n, currency: 'UGX' });
  });

  it('throws on mixed currencies instead of producing a number', () => {
    expect(codeOf(() => addMoney(a, usd))).toBe('currency_mismatch');
    expect(codeOf(() => subtractMoney(usd, a))).toBe('currency_mismatch');
    expect(codeOf(() => compareMoney(a, usd))).toBe('currency_mismatch');
    expect(codeOf(() => sumMoney([a, usd]))).toBe('currency_mismatch');
    expect(codeOf(() => sumMoney([]))).toBe('currency_required');
  });

  it('compares, negates and takes absolute values', () => {
    expect(compareMoney(a, b)).toBe(1);
    expect(compareMoney(b, a)).toBe(-1);
    expect(compareMoney(a, moneyFromMinor(1050n, 'ZMW'))).toBe(0);
    expect(negateMoney(a).minor).toBe(-1050n);
    expect(absMoney(negateMoney(a))).toEqual(a);
    expect(moneyEquals(a, moneyFromMinor(1050n, 'ZMW'))).toBe(true);
    expect(moneyEquals(moneyFromMinor(100n, 'USD'), moneyFromMinor(100n, 'EUR'))).toBe(false);
  });
});

describe('JSON', () => {
  it('serialises minor units as a string and round-trips through JSON.stringify', () => {
    const m = moneyFromMinor(9223372036854775807n, 'NGN');
    const json = moneyToJson(m);
    expect(json).toEqual({ minor: '9223372036854775807', currency: 'NGN' });
    expect(moneyFromJson(JSON.parse(JSON.stringify(json)))).toEqual(m);
  });

  it('rejects malformed JSON money', () => {
    expect(codeOf(() => moneyFromJson(null))).toBe('invalid_money');
    expect(codeOf(() => moneyFromJson({ minor: true, currency: 'ZMW' }))).toBe('invalid_money');
    expect(codeOf(() => moneyFromJson({ minor: '1.5', currency: 'ZMW' }))).toBe('invalid_amount');
    expect(codeOf(() => moneyFromJson({ minor: '15', currency: 'ZZZ' }))).toBe('unknown_currency');
    expect(codeOf(() => moneyFromJson({ minor: '15' }))).toBe('unknown_currency');
  });
});
