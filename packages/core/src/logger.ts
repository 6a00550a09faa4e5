import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Field names whose values are secrets or personal data. Redacted at the top level and up to three
 * levels deep (pino's paths do not recurse), including inside `err` and request/response objects.
 */
export const REDACTED_KEYS = [
  'password', 'secret', 'token', 'accessToken', 'access_token', 'refreshToken', 'refresh_token',
  'apiKey', 'api_key', 'apiUser', 'authorization', 'Authorization', 'cookie', 'clientSecret',
  'client_secret', 'subscriptionKey', 'mono-sec-key', 'mono-webhook-secret', 'x-api-key',
  'Ocp-Apim-Subscription-Key', 'ocp-apim-subscription-key', 'credentials', 'ciphertext',
  'msisdn', 'MSISDN', 'phone', 'phoneNumber', 'partyId', 'accountNumber', 'account_number',
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

/** Masks digits of phone numbers (MSISDNs) and long account numbers inside free text. */
export function maskIdentifiers(text: string): string {
  return text.replace(/\+?\d[\d ]{8,}\d/g, (m) => {
    const digits = m.replace(/\D/g, '');
    return digits.length < 9 ? m : `***${digits.slice(-3)}`;
  });
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
    formatters: { level: (label) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
    hooks: {
      // Free-text messages are scanned for phone/account numbers; structured fields are redacted above.
      logMethod(args, method) {
        const masked = args.map((a) => (typeof a === 'string' ? maskIdentifiers(a) : a));
        return method.apply(this, masked as Parameters<typeof method>);
      },
    },
    ...(opts.mixin ? { mixin: opts.mixin } : {}),
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
