import { defineConfig } from 'vitest/config';

// Two projects: pure unit tests need nothing; integration tests (*.int.test.ts) run against the
// real local Kafka + Redis, which test/setup/stack.global.ts brings up (or reuses) once per run.
export default defineConfig({
  test: {
    disableConsoleIntercept: true,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
          exclude: ['test/**/*.int.test.ts', 'test/**/*.int.test.tsx'],
          // Some unit tests spawn the built CLI (help, config file, exit codes): a loaded 2-core
          // machine takes seconds per spawn, so the 5 s default would fail on load, not on a defect.
          testTimeout: 30_000,
          // Every core (vitest's default keeps one for itself: a single worker on CI's two cores).
          // The unit files run before the integration files, so nothing else wants the second core;
          // many of them wait on spawned CLI processes. Measured: 77 s -> 64 s on a loaded 2-core box.
          maxWorkers: '100%',
        },
      },
      {
        extends: true,
        test: {
          name: 'int',
          include: ['test/**/*.int.test.ts', 'test/**/*.int.test.tsx'],
          globalSetup: ['test/setup/stack.global.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // One broker and one Redis on 2 cores: files run one after another to keep timings stable.
          fileParallelism: false,
        },
      },
    ],
  },
});
