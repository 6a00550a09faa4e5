import { ensureTemplateDatabase, provisionTestRoles } from './databases';
import { startInfrastructure } from './infrastructure';

/**
 * Runs once before all test files: finds (or starts) Postgres, Redis and NATS, publishes their URLs
 * in the environment the jest workers inherit, builds the migrated template database and lets
 * the service roles log in (TestDatabase.poolAs).
 */
export default async function globalSetup(): Promise<void> {
  await startInfrastructure();
  await ensureTemplateDatabase();
  await provisionTestRoles();
}
