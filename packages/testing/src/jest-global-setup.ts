import { startInfrastructure } from './infrastructure';

/** Runs once before all test files: makes sure Postgres, Redis and NATS are reachable. */
export default async function globalSetup(): Promise<void> {
  await startInfrastructure();
}
