/** Public entry of the checker; see types.ts for the contract. */
export type * from './types';
export { checkInvariants } from './check';
export { renderReport, failedCount } from './render';
