import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// Three sizes of test (STYLE.md): unit beside the code with nothing real behind it,
// medium against real NATS / PostgreSQL / Redis, e2e against the services started as
// separate processes from their build output.
//
// Timeouts are tight so a hung test fails fast: an e2e test that needs longer says so on
// itself (`it(name, fn, 60_000)` under a comment with its duration in CI), at about six times
// that duration, since a busy 2-core machine runs e2e tests 3-4 times slower than CI did.
const decorators = swc.vite({
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { decoratorMetadata: true, legacyDecorator: true },
    target: 'es2022',
  },
});

export default defineConfig({
  test: {
    reporters: process.env.CI ? ['default', 'junit'] : ['default'],
    outputFile: { junit: '.heady/test-results/junit.xml' },
    projects: [
      {
        plugins: [decorators],
        test: {
          name: 'unit',
          include: ['libs/*/src/**/*.spec.ts', 'services/*/src/**/*.spec.ts'],
          testTimeout: 10_000,
        },
      },
      {
        plugins: [decorators],
        test: {
          name: 'medium',
          include: [
            'libs/*/test/**/*.test.ts',
            'services/*/test/**/*.test.ts',
            // deploy/: manifests, alert rules (kubectl, promtool)
            'test/deploy/**/*.test.ts',
          ],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        plugins: [decorators],
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 30_000,
          // starting a whole stack takes about 10 s in CI, 30 s on a busy machine
          hookTimeout: 120_000,
          // whole-system suites each start their own stack; run them one at a time on 2 cores
          fileParallelism: false,
        },
      },
    ],
  },
});
