export * from './config';
export * from './errors';
export * from './health-server';
export * from './logger';
export * from './metrics';
export * from './shutdown';
export * from './tracing';
