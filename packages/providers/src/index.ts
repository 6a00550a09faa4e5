/**
 * The provider adapters and their HTTP clients. The workers run them under the sync engine;
 * sync-api uses the same clients to verify credentials and exchange link codes, so that each
 * provider's HTTP rules (auth headers, budgets, error taxonomy) live in one place.
 */
export { MonoClient, type MonoClientOptions, type MonoResponse } from './mono/mono.client';
export { monoStatementMetrics, type MonoStatementMetrics } from './mono/mono.metrics';
export { MonoProvider, DEFAULT_REAUTH_LINK_TTL_MS, type MonoProviderOptions } from './mono/mono.provider';
export { MomoApi, momoCredentialSchema, type MomoCredential, type MomoProduct } from './momo/momo.api';
export { MomoClient, type MomoClientOptions } from './momo/momo.client';
export { AirtelApi, airtelCredentialSchema, AIRTEL_PRODUCT, type AirtelCredential } from './airtel/airtel.api';
export { AirtelClient, type AirtelMerchant } from './airtel/airtel.client';
export { AirtelHttp, type AirtelHttpOptions } from './airtel/airtel.http';
export { CLIENT_REJECTED, TOKEN_REJECTED } from './airtel/airtel.errors';
export {
  classifyVerificationFailure,
  exchangeMonoCode,
  verifyAirtelCredential,
  verifyMomoCredential,
  type MonoLinkedAccount,
  type VerificationFailure,
} from './linking';
