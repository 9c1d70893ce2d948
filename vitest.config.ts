import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds the web app (dist/web) once, before the e2e tests and `hush start` children need it.
    globalSetup: ['test/e2e/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration suites start real brokers on their own ports; two cores do not gain from more workers.
    maxWorkers: 2,
    reporters: ['default', './test/no-skip-reporter.ts'],
  },
});
