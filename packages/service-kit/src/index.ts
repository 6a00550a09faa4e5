export * from './config';
export * from './connections';
export * from './run-service';
export * from './service-kit';
export * from './unreachable';
export * from './process-group';
