export * from './account-status';
export * from './caller';
export * from './errors';
export * from './manual-sync-limiter';
export * from './sync-api';
