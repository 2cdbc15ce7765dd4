import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// Three sizes of test (STYLE.md): unit beside the code with nothing real behind it,
// medium against real NATS / PostgreSQL / Redis, e2e against the services started as
// separate processes from their build output.
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
          include: ['libs/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        plugins: [decorators],
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // whole-system suites each start their own stack; run them one at a time on 2 cores
          fileParallelism: false,
        },
      },
    ],
  },
});
