import { z } from 'zod';
import { positiveIntVar, urlVar } from '@intellifin/core';

/**
 * Configuration of linking and repair, spread into sync-api's environment schema. The names are
 * the workers' own (mono-worker, momo-worker, airtel-worker, wallet-sync's `walletWorkerEnv`), so a
 * deployment sets each once: the same key ring encrypts what the API stores and decrypts it in the
 * workers; the API's provider requests count against the same shared Redis budgets.
 */
export const linkingEnv = {
  /** Key ring of provider_credentials (`<id>:<base64 32 bytes>,…`; the first encrypts). */
  CREDENTIALS_ENCRYPTION_KEY: z.string().min(1),
  MONO_BASE_URL: urlVar(['http', 'https']).default('http://127.0.0.1:4010'),
  /** Mono app secret (`mono-sec-key`): exchanges Connect codes and asks for re-auth links. */
  MONO_SECRET_KEY: z.string().min(1),
  /** Where Mono's widget returns the user after a re-auth (optional; Mono's default otherwise). */
  MONO_REAUTH_REDIRECT_URL: urlVar(['http', 'https', 'intellifin']).optional(),
  MOMO_BASE_URL: urlVar(['http', 'https']).default('http://127.0.0.1:4020'),
  MOMO_TARGET_ENVIRONMENT: z
    .string()
    .regex(/^(sandbox|mtn[a-z]+)$/, 'sandbox or mtn<country>')
    .default('mtnzambia'),
  AIRTEL_BASE_URL: urlVar(['http', 'https']).default('http://127.0.0.1:4030'),
  /** Each provider request made while linking or repairing (verification, code exchange, re-auth link). */
  LINK_PROVIDER_TIMEOUT_MS: positiveIntVar(10_000),
  /** The shared per-provider request budgets (same values as the workers' *_RATE_PER_SECOND / *_RATE_BURST). */
  MONO_RATE_PER_SECOND: positiveIntVar(200),
  MONO_RATE_BURST: positiveIntVar(400),
  MOMO_RATE_PER_SECOND: positiveIntVar(200),
  MOMO_RATE_BURST: positiveIntVar(400),
  AIRTEL_RATE_PER_SECOND: positiveIntVar(100),
  AIRTEL_RATE_BURST: positiveIntVar(200),
};
