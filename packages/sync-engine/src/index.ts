/**
 * @intellifin/sync-engine — the per-account sync run shared by the provider workers
 * (ARCHITECTURE §3): lease, fence, paged delta with fenced commits, run record, events, ack.
 */
export * from './engine';
export * from './engine-options';
export * from './infra';
export * from './events';
export * from './metrics';
export * from './request-gate';
export * from './run-context';
export * from './request-log';
export * from './worker';
export * from './worker-config';
