/** Jest runs the TypeScript tests through ts-jest. Worker-thread code runs from
 *  dist/ (built by `npm test`'s pretest step), so the tests see the same JS the
 *  CLI runs. */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Per test file: stop the device host and the watchdog, remove the run folder (see the file).
  setupFilesAfterEnv: ['<rootDir>/test/setup/run-folder.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
  testTimeout: 120000,
};
