import { ensureTemplateDatabase } from './databases';
import { startInfrastructure } from './infrastructure';

/**
 * Runs once before all test files: finds (or starts) Postgres, Redis and NATS, publishes their URLs
 * in the environment the jest workers inherit, and builds the migrated template database.
 */
export default async function globalSetup(): Promise<void> {
  await startInfrastructure();
  await ensureTemplateDatabase();
}
