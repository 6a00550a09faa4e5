import { DomainError } from './errors';

/**
 * ISO 4217 currencies the system handles, with their minor-unit exponent (number of decimals).
 * The exponents are ISO's, which is what the providers use: UGX, RWF, XAF and XOF have no minor
 * unit; TZS and MWK formally have two decimals even if cents are rarely used.
 */
export const CURRENCIES = {
  ZMW: { exponent: 2, name: 'Zambian kwacha' },
  NGN: { exponent: 2, name: 'Nigerian naira' },
  KES: { exponent: 2, name: 'Kenyan shilling' },
  GHS: { exponent: 2, name: 'Ghanaian cedi' },
  UGX: { exponent: 0, name: 'Ugandan shilling' },
  TZS: { exponent: 2, name: 'Tanzanian shilling' },
  RWF: { exponent: 0, name: 'Rwandan franc' },
  MWK: { exponent: 2, name: 'Malawian kwacha' },
  XAF: { exponent: 0, name: 'Central African CFA franc' },
  XOF: { exponent: 0, name: 'West African CFA franc' },
  ZAR: { exponent: 2, name: 'South African rand' },
  BWP: { exponent: 2, name: 'Botswana pula' },
  CDF: { exponent: 2, name: 'Congolese franc' },
  USD: { exponent: 2, name: 'US dollar' },
  EUR: { exponent: 2, name: 'Euro' },
  GBP: { exponent: 2, name: 'Pound sterling' },
} as const satisfies Record<string, { exponent: number; name: string }>;

export type CurrencyCode = keyof typeof CURRENCIES;

export const CURRENCY_CODES = Object.freeze(Object.keys(CURRENCIES) as CurrencyCode[]);

/** An amount of money: integer minor units (kobo, ngwee, cents…) and its currency. Never a float. */
export interface Money {
  readonly minor: bigint;
  readonly currency: CurrencyCode;
}

/** The JSON form of Money: the bigint as a decimal integer string (JSON has no bigint). */
export interface MoneyJson {
  minor: string;
  currency: string;
}

export function isCurrencyCode(value: unknown): value is CurrencyCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(CURRENCIES, value);
}

/** The currency code, or a `DomainError('unknown_currency')`. Case-sensitive: ISO codes are upper case. */
export function parseCurrency(value: unknown): CurrencyCode {
  if (!isCurrencyCode(value)) {
    throw new DomainError('unknown_currency', `unknown or unsupported currency: ${describe(value)}`, {
      currency: typeof value === 'string' ? value.slice(0, 16) : typeof value,
    });
  }
  return value;
}

/** Number of decimals of the currency's minor unit (2 for ZMW, 0 for UGX). */
export function currencyExponent(currency: CurrencyCode): number {
  return CURRENCIES[parseCurrency(currency)].exponent;
}

/** Money from minor units. Accepts a bigint, a safe integer number (Mono sends numbers) or an integer string. */
export function moneyFromMinor(minor: bigint | number | string, currency: CurrencyCode | string): Money {
  const code = parseCurrency(currency);
  return Object.freeze({ minor: toMinorBigint(minor), currency: code });
}

/** Shorthand for `moneyFromMinor`. */
export const money = moneyFromMinor;

export function zero(currency: CurrencyCode | string): Money {
  return moneyFromMinor(0n, currency);
}

const DECIMAL = /^([+-]?)(\d+)(?:\.(\d+))?$/;

/**
 * Parses a provider decimal string in major units ("1500.50", "1500", "-12.3", "+7") into exact
 * minor units. No floating point is involved at any step.
 *
 * Rejected (`DomainError('invalid_amount')`): empty, whitespace, thousands separators, a bare or
 * trailing dot (".5", "5."), scientific notation ("1e3"), hex, `NaN`/`Infinity`, and more fractional
 * digits than the currency has — unless the extra digits are all zeros ("1500.00" is fine for UGX,
 * "1500.5" is not).
 */
export function parseDecimalToMinor(value: string, currency: CurrencyCode | string): bigint {
  const code = parseCurrency(currency);
  if (typeof value !== 'string') {
    throw new DomainError('invalid_amount', `amount must be a decimal string, got ${describe(value)}`);
  }
  const m = DECIMAL.exec(value);
  if (!m) {
    throw new DomainError('invalid_amount', `not a decimal amount: ${describe(value)}`, { value: value.slice(0, 40) });
  }
  const sign = m[1] === '-' ? -1n : 1n;
  const whole = m[2] as string;
  let fraction = m[3] ?? '';
  const exponent = CURRENCIES[code].exponent;
  if (fraction.length > exponent) {
    const extra = fraction.slice(exponent);
    if (!/^0+$/.test(extra)) {
      throw new DomainError('invalid_amount', `${code} has ${exponent} decimal(s); amount ${describe(value)} has more precision`, {
        value: value.slice(0, 40),
        currency: code,
      });
    }
    fraction = fraction.slice(0, exponent);
  }
  fraction = fraction.padEnd(exponent, '0');
  return sign * BigInt(whole + fraction);
}

/** `parseDecimalToMinor` wrapped into Money. */
export function moneyFromDecimal(value: string, currency: CurrencyCode | string): Money {
  const code = parseCurrency(currency);
  return Object.freeze({ minor: parseDecimalToMinor(value, code), currency: code });
}

/**
 * Money from a JSON number in major units (Airtel request/response bodies use numbers such as
 * `150` or `150.5`). The number's shortest round-trip decimal text is parsed exactly, so `150.5`
 * becomes 15050 ngwee; numbers that print in scientific notation, non-finite numbers and numbers
 * with more precision than the currency are rejected.
 */
export function moneyFromMajorNumber(value: number, currency: CurrencyCode | string): Money {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new DomainError('invalid_amount', `amount must be a finite number, got ${describe(value)}`);
  }
  return moneyFromDecimal(String(value), currency);
}

/** Minor units as a decimal string with exactly the currency's decimals: 150050n ZMW → "1500.50". */
export function formatMinor(minor: bigint, currency: CurrencyCode | string): string {
  const code = parseCurrency(currency);
  const exponent = CURRENCIES[code].exponent;
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString();
  if (exponent === 0) return (negative ? '-' : '') + digits;
  const padded = digits.padStart(exponent + 1, '0');
  const whole = padded.slice(0, padded.length - exponent);
  const fraction = padded.slice(padded.length - exponent);
  return `${negative ? '-' : ''}${whole}.${fraction}`;
}

/** Money as a decimal string in major units (no currency symbol): "1500.50". */
export function formatMoney(m: Money): string {
  return formatMinor(m.minor, m.currency);
}

export function isMoney(value: unknown): value is Money {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['minor'] === 'bigint' && isCurrencyCode(v['currency']);
}

/** Throws `DomainError('currency_mismatch')` unless both amounts are in the same currency. */
export function assertSameCurrency(a: Money, b: Money): void {
  if (a.currency !== b.currency) {
    throw new DomainError('currency_mismatch', `currency mismatch: ${a.currency} vs ${b.currency}`, {
      left: a.currency,
      right: b.currency,
    });
  }
}

export function addMoney(a: Money, b: Money): Money {
  assertSameCurrency(a, b);
  return Object.freeze({ minor: a.minor + b.minor, currency: a.currency });
}

export function subtractMoney(a: Money, b: Money): Money {
  assertSameCurrency(a, b);
  return Object.freeze({ minor: a.minor - b.minor, currency: a.currency });
}

/** Sum of amounts of one currency; an empty list needs the currency to give a zero. */
export function sumMoney(items: readonly Money[], currency?: CurrencyCode): Money {
  const first = items[0];
  const code = currency ?? first?.currency;
  if (code === undefined) {
    throw new DomainError('currency_required', 'sumMoney of an empty list needs a currency');
  }
  let total = zero(code);
  for (const m of items) total = addMoney(total, m);
  return total;
}

/** -1, 0 or 1. Throws on different currencies: amounts in different currencies are not comparable. */
export function compareMoney(a: Money, b: Money): -1 | 0 | 1 {
  assertSameCurrency(a, b);
  return a.minor < b.minor ? -1 : a.minor > b.minor ? 1 : 0;
}

/** Same currency and same amount. Unlike `compareMoney`, different currencies are simply unequal. */
export function moneyEquals(a: Money, b: Money): boolean {
  return a.currency === b.currency && a.minor === b.minor;
}

export function negateMoney(m: Money): Money {
  return Object.freeze({ minor: -m.minor, currency: m.currency });
}

export function absMoney(m: Money): Money {
  return m.minor < 0n ? negateMoney(m) : m;
}

export function isZeroMoney(m: Money): boolean {
  return m.minor === 0n;
}

export function isNegativeMoney(m: Money): boolean {
  return m.minor < 0n;
}

/** JSON-safe form: `{ minor: "150050", currency: "ZMW" }`. */
export function moneyToJson(m: Money): MoneyJson {
  return { minor: m.minor.toString(), currency: m.currency };
}

/** Parses `MoneyJson` (minor as an integer string, or a safe integer number) with validation. */
export function moneyFromJson(value: unknown): Money {
  if (typeof value !== 'object' || value === null) {
    throw new DomainError('invalid_money', `money must be an object, got ${describe(value)}`);
  }
  const v = value as Record<string, unknown>;
  const minor = v['minor'];
  if (typeof minor !== 'string' && typeof minor !== 'number') {
    throw new DomainError('invalid_money', `money.minor must be an integer string, got ${describe(minor)}`);
  }
  return moneyFromMinor(minor, parseCurrency(v['currency']));
}

function toMinorBigint(minor: bigint | number | string): bigint {
  if (typeof minor === 'bigint') return minor;
  if (typeof minor === 'number') {
    if (!Number.isSafeInteger(minor)) {
      throw new DomainError('invalid_amount', `minor units must be a safe integer, got ${describe(minor)}`);
    }
    return BigInt(minor);
  }
  if (typeof minor === 'string' && /^-?\d+$/.test(minor)) {
    return BigInt(minor);
  }
  throw new DomainError('invalid_amount', `minor units must be an integer, got ${describe(minor)}`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'array' : 'object';
  return String(value);
}
