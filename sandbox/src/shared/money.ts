/**
 * Money helpers. Internally every amount is an integer in the currency's minor unit. Providers that
 * put decimal strings on the wire (MoMo, Airtel) are formatted/parsed at the edge only.
 */
const EXPONENT: Record<string, number> = {
  NGN: 2,
  GHS: 2,
  KES: 2,
  ZAR: 2,
  ZMW: 2,
  EUR: 2,
  USD: 2,
  MWK: 2,
  TZS: 2,
  RWF: 0,
  UGX: 0,
  XAF: 0,
  XOF: 0,
  CDF: 2,
};

export function exponentOf(currency: string): number {
  return EXPONENT[currency] ?? 2;
}

/** Minor units → major-unit decimal string, trimming a zero fraction ("1500", "1500.50"). */
export function formatMajor(minor: number, currency: string): string {
  const e = exponentOf(currency);
  if (e === 0) return String(minor);
  const neg = minor < 0;
  const abs = Math.abs(minor);
  const div = 10 ** e;
  const whole = Math.floor(abs / div);
  const frac = abs % div;
  const s = frac === 0 ? String(whole) : `${whole}.${String(frac).padStart(e, '0')}`;
  return neg ? `-${s}` : s;
}

/** Minor units → major-unit decimal string with all fraction digits ("230486.65", "150.00"). */
export function formatMajorFixed(minor: number, currency: string): string {
  const e = exponentOf(currency);
  if (e === 0) return String(minor);
  const neg = minor < 0;
  const abs = Math.abs(minor);
  const div = 10 ** e;
  const s = `${Math.floor(abs / div)}.${String(abs % div).padStart(e, '0')}`;
  return neg ? `-${s}` : s;
}

/** Major-unit decimal string → minor units, or undefined if not a valid non-negative amount. */
export function parseMajor(s: string, currency: string): number | undefined {
  const e = exponentOf(currency);
  const m = /^(\d{1,15})(?:\.(\d+))?$/.exec(s.trim());
  if (!m) return undefined;
  const frac = m[2] ?? '';
  if (frac.length > e && !/^0*$/.test(frac.slice(e))) return undefined;
  const minor = Number(m[1]) * 10 ** e + Number((frac + '0'.repeat(e)).slice(0, e) || '0');
  return Number.isSafeInteger(minor) ? minor : undefined;
}

/** A JSON number in major units (Airtel requests) → minor units. */
export function majorNumberToMinor(n: number, currency: string): number | undefined {
  if (!Number.isFinite(n) || n < 0) return undefined;
  const minor = Math.round(n * 10 ** exponentOf(currency));
  if (Math.abs(minor / 10 ** exponentOf(currency) - n) > 1e-9) return undefined;
  return minor;
}
