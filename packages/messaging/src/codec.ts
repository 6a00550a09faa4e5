import { ValidationError } from '@intellifin/core';

/**
 * How a payload type travels on the wire. JSON is the default; a protobuf codec from
 * `@intellifin/proto` fits the same shape (`encode: (v) => T.encode(v).finish(), decode: T.decode`).
 * `decode` must throw on malformed input: the consumer runner dead-letters such messages.
 */
export interface PayloadCodec<T> {
  /** Sent as the `Content-Type` header. */
  readonly contentType: string;
  encode(value: T): Uint8Array;
  decode(data: Uint8Array): T;
}

/** A schema check: returns the typed value or throws (a zod `schema.parse` fits). */
export type PayloadParser<T> = (data: unknown) => T;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** bigint (money in minor units) travels as a decimal string; the parser turns it back. */
function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/**
 * JSON text of a value. A replacer function makes `JSON.stringify` several times slower, so it is
 * used only for a value that holds a bigint (the plain call throws a TypeError on those).
 */
function stringify(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (err instanceof TypeError) return JSON.stringify(value, replacer);
    throw err;
  }
}

/**
 * JSON codec validated by `parse` on both sides: a publisher cannot send what a consumer would
 * reject, and a consumer gets a typed value or a `ValidationError`.
 */
export function jsonCodec<T = unknown>(parse: PayloadParser<T> = (d) => d as T): PayloadCodec<T> {
  return {
    contentType: 'application/json',
    encode(value: T): Uint8Array {
      return encoder.encode(stringify(parse(value)));
    },
    decode(data: Uint8Array): T {
      let raw: unknown;
      try {
        raw = JSON.parse(decoder.decode(data));
      } catch (err) {
        throw new ValidationError(
          'malformed_payload',
          `payload is not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
          [],
          { cause: err },
        );
      }
      try {
        return parse(raw);
      } catch (err) {
        if (err instanceof ValidationError) throw err;
        throw new ValidationError(
          'malformed_payload',
          `payload does not match its schema: ${err instanceof Error ? err.message : String(err)}`,
          [],
          { cause: err },
        );
      }
    },
  };
}

/** Raw bytes, no validation. */
export const bytesCodec: PayloadCodec<Uint8Array> = {
  contentType: 'application/octet-stream',
  encode: (v) => v,
  decode: (d) => d,
};
