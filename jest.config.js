/** Jest runs the TypeScript tests through ts-jest. Worker-thread code runs from
 *  dist/ (built by `npm test`'s pretest step), so the tests see the same JS the
 *  CLI runs. */
// The leftovers warning at the start of a run (src/cli/preflight.ts) depends on what other runs on the
// machine left; tests that compare stderr must not see it (test/cli/bad-input-work.test.ts turns it on).
process.env.TORNLAB_LEFTOVER_WARNING = process.env.TORNLAB_LEFTOVER_WARNING ?? 'off';
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
