import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * Configuration comes from environment variables only. Each service declares a zod object whose
 * keys are the variable names; `loadConfig` validates it once at start-up and stops the process
 * with a message naming every bad or missing variable. A secret may instead be given as
 * `<NAME>_FILE`, the path of a file holding it (a mounted Kubernetes Secret).
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

/** Resolves `<NAME>_FILE` indirections for the keys the schema declares. */
function resolveFileVariables(keys: string[], env: Env, problems: string[]): Env {
  const out: Env = { ...env };
  for (const key of keys) {
    const fileVar = `${key}_FILE`;
    const path = env[fileVar];
    if (path === undefined || path === '') continue;
    if (env[key] !== undefined && env[key] !== '') {
      problems.push(`${key}: set both ${key} and ${fileVar}; set only one`);
      continue;
    }
    try {
      out[key] = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      const code = typeof err === 'object' && err !== null && 'code' in err ? (err as { code: unknown }).code : undefined;
      const reason = typeof code === 'string' ? code : 'unreadable';
      problems.push(`${fileVar}: cannot read file ${path} (${reason})`);
    }
  }
  return out;
}

export function loadConfig<S extends z.ZodObject>(schema: S, env: Env = process.env): z.infer<S> {
  const problems: string[] = [];
  const resolved = resolveFileVariables(Object.keys(schema.shape), env, problems);
  // Empty strings mean "unset": an exported-but-empty variable should fall back to its default.
  const input: Env = {};
  for (const key of Object.keys(schema.shape)) {
    const value = resolved[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = issue.path.length > 0 ? issue.path.map(String).join('.') : '(config)';
      const message = input[name] === undefined && issue.code === 'invalid_type' ? 'is required but not set' : issue.message;
      problems.push(`${name}: ${message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return (parsed as { data: z.infer<S> }).data;
}

// ---- Field helpers -------------------------------------------------------------------------

export const urlVar = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol.replace(/:$/, ''));
      } catch {
        return false;
      }
    },
    { message: `must be a URL with scheme ${protocols.join(' or ')}` },
  );

export const portVar = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

export const positiveIntVar = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const boolVar = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const logLevelVar = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');

// ---- Shared fragments (spread into a service schema) ---------------------------------------

export const databaseEnv = { DATABASE_URL: urlVar(['postgres', 'postgresql']) };
export const redisEnv = { REDIS_URL: urlVar(['redis', 'rediss']).default('redis://127.0.0.1:6379') };
export const natsEnv = { NATS_URL: urlVar(['nats', 'tls']).default('nats://127.0.0.1:4222') };
export const loggingEnv = { LOG_LEVEL: logLevelVar };
