import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

/**
 * The descriptors server reflection serves (so `grpcurl` works without .proto files): the
 * `proto/` sources loaded at run time with @grpc/proto-loader, plus grpc.health.v1.
 *
 * Where `proto/` is: `PROTO_DIR` when set; else the first `proto/` holding the service file
 * found walking up from this module. From the sources that is the repository's `proto/`; from the
 * bundle (`services/sync-api/dist/main.js`) it is `dist/proto/`, which scripts/build.mjs copies
 * there, or the repository's when run from a checkout.
 */
export const SERVICE_PROTO = join('intellifin', 'sync', 'v1', 'sync_service.proto');

export function findProtoRoot(start: string = __dirname, env: NodeJS.ProcessEnv = process.env): string {
  if (env.PROTO_DIR) {
    if (!existsSync(join(env.PROTO_DIR, SERVICE_PROTO))) throw new Error(`PROTO_DIR: no ${SERVICE_PROTO} under it`);
    return env.PROTO_DIR;
  }
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, SERVICE_PROTO))) return candidate;
    if (dirname(dir) === dir) throw new Error(`sync-api: cannot find proto/${SERVICE_PROTO} above ${start} (set PROTO_DIR)`);
  }
}

export function reflectionDefinition(protoRoot: string = findProtoRoot()): PackageDefinition {
  return loadSync([join(protoRoot, SERVICE_PROTO), healthProtoPath], {
    includeDirs: [protoRoot],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
}
