/**
 * Deterministic JSON: object keys sorted at every depth, so that two values that differ only in key
 * order serialise identically. bigint → decimal string, Date → ISO string, `undefined` properties
 * dropped (as JSON.stringify does). Used to compare raw provider payloads and to fingerprint rows.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(normalise(value, new Set()));
}

function normalise(value: unknown, seen: Set<object>): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (seen.has(value)) throw new TypeError('canonicalJson: cyclic value');
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : normalise(v, seen)));
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return normalise((toJSON as () => unknown).call(value), seen);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      out[key] = normalise(v, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/** Structural equality of two JSON-like values, ignoring object key order. */
export function jsonEquals(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
