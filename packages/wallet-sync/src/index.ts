/**
 * @intellifin/wallet-sync — keeping a merchant wallet (MTN MoMo, Airtel Money) current on the shared
 * sync engine (issue #11, ARCHITECTURE §4): the `WalletApi` port each provider implements, the
 * `WalletProvider` (the engine's provider port over our own pending references), the per-run
 * `WalletSession` (credentials, shared token cache, 401 → one refresh → AuthError), reference intake
 * and callbacks over `WALLET_INTAKE`, and the layer's metrics.
 */
export * from './wallet-api';
export * from './wallet-session';
export * from './wallet-provider';
export * from './reference-mapping';
export * from './intake';
export * from './intake-consumer';
export * from './intake-publish';
export * from './metrics';
export * from './wallet-worker';
export * from './wallet-worker-config';
