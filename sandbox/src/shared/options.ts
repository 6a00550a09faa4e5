/** Merging user options (from code, CLI or a control-API reset body) over defaults. */
export function mergeSettings<T extends object>(defaults: T, current: T, input: Record<string, unknown>): T {
  const out = { ...current } as Record<string, unknown>;
  for (const [key, dflt] of Object.entries(defaults)) {
    if (!(key in input)) continue;
    const v = input[key];
    if (v === undefined) continue;
    if (typeof dflt === 'number') {
      const n = typeof v === 'string' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isFinite(n)) throw new Error(`${key} must be a number`);
      out[key] = n;
    } else if (typeof dflt === 'boolean') {
      out[key] = v === true || v === 'true' || v === '1';
    } else {
      out[key] = v === null ? undefined : v;
    }
  }
  return out as T;
}

/** Options every simulator takes. */
export interface CommonOptions {
  /** Seed for every generated value and fault decision (number or string). Default 1. */
  seed?: number | string;
  /** Simulator epoch: ms, ISO string, or 'today' (start of the current UTC day, the default). */
  epoch?: number | string;
  /** 'real' (default) ticks with wall time; 'manual' only moves via clock/advance. */
  clock?: 'real' | 'manual';
  host?: string;
  /** 0 = any free port. */
  port?: number;
  /** Entries the request log keeps (oldest evicted first, counted as `dropped`). Default 100,000. */
  requestLogCapacity?: number;
}
