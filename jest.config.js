/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testTimeout: 60000,
  // Broker tests share real brokers and the machine has two cores: one file at a time.
  maxWorkers: 1,
  watchPathIgnorePatterns: ['<rootDir>/test/compat/.*/node_modules'],
  modulePathIgnorePatterns: ['<rootDir>/test/compat/.*/node_modules', '<rootDir>/dist'],
};
