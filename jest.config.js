/** Tests run against a real PostgreSQL: see test/support/global-setup.mjs for how one is found. */
module.exports = {
  testEnvironment: '<rootDir>/test/support/environment.cjs',
  globalSetup: '<rootDir>/test/support/global-setup.mjs',
  globalTeardown: '<rootDir>/test/support/global-teardown.mjs',
  transform: { '^.+\\.ts$': 'ts-jest' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 30_000,
  maxWorkers: 2,
  // How long a worker may take to exit once told to. Jest's default, 500 ms, is shorter than a
  // worker's teardown on a loaded 2-core machine: with its event loop already empty (no timer,
  // socket or child left), a worker took 70-110 ms to exit when idle and 560-600 ms under load,
  // and was reported as "failed to exit gracefully". A real leak is still reported, 5 s later.
  workerGracefulExitTimeout: 5000,
};
