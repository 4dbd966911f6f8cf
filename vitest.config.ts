import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // examples/ import the package by name; tests run them on the sources, not on a build.
  resolve: {
    alias: {
      'audithouse/client': fileURLToPath(new URL('./src/sdk/client/index.ts', import.meta.url)),
      'audithouse/hono': fileURLToPath(new URL('./src/sdk/hono/index.ts', import.meta.url)),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file runs in its own process (forks): libchdb binds one data directory per
    // process, and files isolate further with a database each.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
