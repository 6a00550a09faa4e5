/**
 * Generated code for `proto/intellifin/sync/v1` (ts-proto, `outputServices=grpc-js`,
 * `forceLong=bigint`, `useDate=true`). Regenerate with `npm run proto:gen`; never edit `gen/`.
 *
 * Every message is an interface plus a same-named codec (`encode`, `decode`, `fromJSON`,
 * `toJSON`, `create`, `fromPartial`); int64 fields (Money.minor) are `bigint`; Timestamps are
 * `Date`. The generated names do not collide, so they are re-exported flat; the per-file
 * namespaces are exported too for callers that prefer `syncTypes.Money` style.
 */
export * from './gen/intellifin/sync/v1/sync_types';
export * from './gen/intellifin/sync/v1/sync_commands';
export * from './gen/intellifin/sync/v1/sync_events';
export * from './gen/intellifin/sync/v1/sync_service';
export { Timestamp } from './gen/google/protobuf/timestamp';

export * as syncTypes from './gen/intellifin/sync/v1/sync_types';
export * as syncCommands from './gen/intellifin/sync/v1/sync_commands';
export * as syncEvents from './gen/intellifin/sync/v1/sync_events';
export * as syncService from './gen/intellifin/sync/v1/sync_service';

/** The fully-qualified gRPC service name (for health checks and reflection). */
export const SYNC_SERVICE_NAME = 'intellifin.sync.v1.SyncService';

export * from './enum-mapping';
