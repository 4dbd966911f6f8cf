import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Files that took 5 s or more of test time in a one-worker run of the whole suite (c4c0883, the
// shared 2-core machine): fault and crash suites, simulated years, real child processes and
// daemons, wall-clock waits. Together ~400 s of the ~480 s; `npm run test:fast` leaves them out.
const SLOW = [
  'test/durability.test.ts', // 47 s
  'test/retention-crash.test.ts', // 47 s
  'test/retention-invariants.test.ts', // 26 s
  'test/limits.test.ts', // 23 s
  'test/hardening.test.ts', // 21 s
  'test/retention-year.test.ts', // 19 s
  'test/e2e.test.ts', // 19 s
  'test/tokens.test.ts', // 17 s
  'test/write-path.test.ts', // 17 s
  'test/outage.test.ts', // 16 s
  'test/logging.test.ts', // 14 s
  'test/fast-paths.test.ts', // 14 s
  'test/alerts-e2e.test.ts', // 14 s
  'test/otlp.test.ts', // 14 s
  'test/integrity.test.ts', // 13 s
  'test/redaction-gaps.test.ts', // 13 s
  'test/read-cache.test.ts', // 11 s
  'test/retention-api.test.ts', // 10 s
  'test/integrity-fuzz.test.ts', // 9 s
  'test/archive-verify.test.ts', // 8 s
  'test/crash.test.ts', // 8 s
  'test/access-log.test.ts', // 8 s
  'test/retention.test.ts', // 6 s
  'test/analytics-views.test.ts', // 6 s
  'test/read-cache-concurrent.test.ts', // 6 s
  'test/client-delivery.test.ts', // 6 s
  'test/sinks-delivery.test.ts', // 5 s
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
