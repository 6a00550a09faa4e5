/**
 * @intellifin/messaging — JetStream for the sync system.
 *
 * Outcome mapping of the consumer runner:
 * | handler                                   | action                                        |
 * |-------------------------------------------|-----------------------------------------------|
 * | resolves (or `{ ack: true }`)             | `ackAck()`                                    |
 * | `{ nak: ms }`                             | `nak(ms)` (dead-letter on the last delivery)  |
 * | `{ term: reason }`                        | `term()` — no DLQ copy                        |
 * | `{ deadLetter: reason }`                  | DLQ copy → onDeadLetter → `term()`            |
 * | throws retryable (or unknown)             | `nak(retryAfterMs ?? full-jitter backoff)`    |
 * | throws retryable on the last delivery     | DLQ copy → onDeadLetter → `term()`            |
 * | throws auth / permanent / validation      | DLQ copy → onDeadLetter → `term()`            |
 * | payload fails to decode                   | DLQ copy → onDeadLetter → `term()`            |
 * | throws the abort reason during stop()     | `nak(0)`                                      |
 * | never finishes (crash, hang)              | ack-wait redelivery; after MaxDeliver the     |
 * |                                           | DeadLetterWatcher moves it to the DLQ         |
 */
export * from './topology';
export * from './codec';
export * from './connection';
export * from './publisher';
export * from './consumer-runner';
export * from './dead-letters';
export * from './sync-command';
export * from './pub-ack-inbox';
