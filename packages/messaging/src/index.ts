/**
 * @intellifin/messaging — JetStream for the sync system: topology (streams, lanes, consumers) as
 * data, publisher, consumer runner (outcome mapping, pause/resume, requeue), lane runners and the
 * dead-letter watcher. The outcomes table and the delivery contract are in README.md.
 */
export * from './topology';
export * from './codec';
export * from './connection';
export * from './publisher';
export * from './consumer-runner';
export * from './lane-runners';
export * from './requeue';
export * from './dead-letters';
export * from './sync-command';
export * from './pub-ack-inbox';
export * from './queue-ops';
export * from './suspect-isolation';
