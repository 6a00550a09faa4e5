import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Field names whose values are secrets or personal data. Redacted at any depth, in any spelling
 * (case, `-` and `_` are ignored), including inside `err` and request/response headers objects;
 * as query or `name=value` parameters inside strings their values are masked too.
 */
export const REDACTED_KEYS = [
  'password',
  'secret',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'apiKey',
  'api_key',
  'apiUser',
  'authorization',
  'Authorization',
  'cookie',
  'clientSecret',
  'client_secret',
  'subscriptionKey',
  'mono-sec-key',
  'mono-webhook-secret',
  'x-api-key',
  'Ocp-Apim-Subscription-Key',
  'ocp-apim-subscription-key',
  'credentials',
  'ciphertext',
  'msisdn',
  'MSISDN',
  'phone',
  'phoneNumber',
  'partyId',
  'accountNumber',
  'account_number',
] as const;

export function redactionPaths(keys: readonly string[] = REDACTED_KEYS): string[] {
  const paths: string[] = [];
  const q = (k: string) => (/^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `["${k}"]`);
  for (const key of keys) {
    const tail = q(key);
    paths.push(tail.startsWith('.') ? tail.slice(1) : tail, `*${tail}`, `*.*${tail}`, `*.*.*${tail}`);
  }
  return paths;
}

/**
 * Masks digits of phone numbers (MSISDNs) and long account numbers inside free text. A run glued
 * to letters, digits, `_` or `-` is left alone, so ids such as a UUID's all-digit last group survive.
 */
export function maskIdentifiers(text: string): string {
  return text.replace(/(?<![\w-])\+?\d[\d ]{8,}\d(?![\w-])/g, (m) => {
    const digits = m.replace(/\D/g, '');
    return digits.length < 9 ? m : `***${digits.slice(-3)}`;
  });
}

/** Compares key and parameter names ignoring case, `-` and `_` (`X-Api-Key` = `x_api_key` = `xApiKey`). */
const normalizeKey = (k: string) => k.toLowerCase().replace(/[-_]/g, '');
const SENSITIVE_KEYS = new Set(
  [...REDACTED_KEYS, 'set-cookie', 'proxy-authorization', 'id_token', 'private_key', 'signature'].map(normalizeKey),
);
/** Query/`name=value` parameters: the field names plus the short names APIs use for keys and signatures. */
const SENSITIVE_PARAMS = new Set([...SENSITIVE_KEYS, 'key', 'sig']);

/**
 * Masks secrets inside free text (error messages, stacks, URLs): values of sensitive query or
 * `name=value` parameters (`?access_token=…`, `&msisdn=…`), `Bearer`/`Basic` credentials, then
 * phone and account numbers.
 */
export function maskSecrets(text: string): string {
  return maskIdentifiers(
    text
      .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [redacted]')
      .replace(/(^|[?&;,\s])([A-Za-z0-9_.-]+)=([^&#\s,;"']*)/g, (m, sep: string, name: string) =>
        SENSITIVE_PARAMS.has(normalizeKey(name)) ? `${sep}${name}=[redacted]` : m,
      ),
  );
}

const MAX_DEPTH = 8;

/**
 * A copy of a log field with sensitive keys redacted at any depth and in any spelling, and
 * secrets masked in every string. Errors are serialized (pino's shape) with their message and
 * stack masked too.
 */
function sanitize(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return maskSecrets(value);
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Date || ArrayBuffer.isView(value) || value instanceof Map || value instanceof Set) return value;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  seen.add(value);
  try {
    if (value instanceof Error) return sanitize({ ...pino.stdSerializers.err(value) }, depth, seen);
    if (Array.isArray(value)) return value.map((v) => sanitize(v, depth + 1, seen));
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return sanitize(toJSON.call(value), depth + 1, seen); // URL, …
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SENSITIVE_KEYS.has(normalizeKey(k)) ? '[redacted]' : sanitize(v, depth + 1, seen);
    return out;
  } finally {
    seen.delete(value);
  }
}

/** The `err` serializer: pino's, with secrets masked in the message, the stack and every field. */
export function serializeError(err: unknown): unknown {
  return sanitize(err, 0, new WeakSet());
}

export interface CreateLoggerOptions {
  service: string;
  level?: LoggerOptions['level'];
  /** Where to write; defaults to stdout. Tests pass a stream to inspect output. */
  destination?: pino.DestinationStream;
  /** Extra fields stamped on every line (e.g. trace ids via mixin are added by tracing). */
  mixin?: () => Record<string, unknown>;
}

export function createLogger(opts: CreateLoggerOptions): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? 'info',
    base: { service: opts.service },
    redact: { paths: redactionPaths(), censor: '[redacted]' },
    serializers: { err: serializeError },
    formatters: {
      level: (label) => ({ level: label }),
      // Structured fields: sensitive keys at any depth and in any spelling, secrets inside strings
      // (URLs, messages), errors anywhere. `err` itself goes through the serializer above.
      log: (obj) => {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(obj))
          out[k] = k === 'err' ? v : SENSITIVE_KEYS.has(normalizeKey(k)) ? '[redacted]' : sanitize(v, 1, new WeakSet());
        return out;
      },
    },
    timestamp: pino.stdTimeFunctions.isoTime,
    hooks: {
      // Free-text messages are masked too. Without a message, pino uses the error's own message:
      // pass it masked instead.
      logMethod(args, method) {
        const [first] = args;
        if (args.length === 1 && typeof first === 'object' && first !== null) {
          const err = first instanceof Error ? first : (first as { err?: unknown }).err;
          if (err instanceof Error && (first as { msg?: unknown }).msg === undefined) args = [first, err.message] as unknown as typeof args;
        }
        const masked = args.map((a) => (typeof a === 'string' ? maskSecrets(a) : a));
        return method.apply(this, masked as Parameters<typeof method>);
      },
    },
    ...(opts.mixin ? { mixin: opts.mixin } : {}),
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
