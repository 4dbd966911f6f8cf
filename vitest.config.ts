import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Files that took 5 s or more of test time in a run of the whole suite (ddd2844, two files at a
// time on the shared 2-core machine, 184 s in all): fault and crash suites, simulated years, real
// child processes and daemons, wall-clock waits. `npm run test:fast` leaves them out.
const SLOW = [
  'test/retention/retention-crash.test.ts', // 23 s
  'test/spool/durability.test.ts', // 20 s
  'test/ops/alerts-e2e.test.ts', // 13 s
  'test/retention/retention-year.test.ts', // 13 s
  'test/ops/logging.test.ts', // 11 s
  'test/integrity/integrity-fuzz.test.ts', // 10 s
  'test/retention/retention-invariants.test.ts', // 9 s
  'test/api/limits.test.ts', // 8 s
  'test/integrity/integrity.test.ts', // 8 s
  'test/query/read-cache.test.ts', // 8 s
  'test/spool/crash.test.ts', // 8 s
  'test/ops/e2e.test.ts', // 7 s
  'test/retention/retention.test.ts', // 6 s
  'test/retention/retention-api.test.ts', // 6 s
  'test/ingest/write-path.test.ts', // 6 s
  'test/sdk/client-delivery.test.ts', // 5 s
  'test/spool/outage.test.ts', // 5 s
];

export default defineConfig({
  // examples/ import the package by name; tests run them on the sources, not on a build.
  resolve: {
    alias: {
      'audithouse/client': fileURLToPath(new URL('./src/sdk/client/index.ts', import.meta.url)),
      'audithouse/hono': fileURLToPath(new URL('./src/sdk/hono/index.ts', import.meta.url)),
    },
  },
  test: {
    // Each test file runs in its own process (forks): libchdb binds one data directory per
    // process, and files isolate further with a database each.
    pool: 'forks',
    // Vitest's default is one worker less than the cores: on a 2-core machine one file at a time,
    // with the second core idle while a file waits on the engine, on child processes or on
    // timers. Two files at once: 192 s against 290 s one at a time for the whole suite here
    // (ddd2844; every test is meant to hold on a busy machine anyway).
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    // `vitest run` (npm test) runs both; `vitest run --project fast` (npm run test:fast) the first.
    projects: [
      { extends: true, test: { name: 'fast', include: ['test/**/*.test.ts'], exclude: SLOW } },
      { extends: true, test: { name: 'slow', include: SLOW } },
    ],
  },
});
