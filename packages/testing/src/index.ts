export * from './databases';
export * from './infrastructure';
export * from './isolation';
export * from './redis';
export * from './wait';
export * from './fault-proxy';
