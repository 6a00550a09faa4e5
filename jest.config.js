/**
 * One jest run over the whole monorepo. Every workspace's tests live in `test/` (integration
 * against real Postgres/Redis/NATS) or beside the code as `*.test.ts` (pure units); the fault
 * harness's checker tests (`chaos/src/`) run here too, against the shared servers.
 */

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': '<rootDir>/scripts/jest-esbuild-transform.js' },
  testMatch: [
    '<rootDir>/{packages,services}/*/{src,test}/**/*.test.ts',
    '<rootDir>/sandbox/{src,test}/**/*.test.ts',
    '<rootDir>/chaos/src/**/*.test.ts',
  ],
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 60_000,
  maxWorkers: 2,
  globalSetup: '<rootDir>/packages/testing/src/jest-global-setup.ts',
  globalTeardown: '<rootDir>/packages/testing/src/jest-global-teardown.ts',
  reporters: ['default', '<rootDir>/scripts/jest-totals-reporter.js'],
};
