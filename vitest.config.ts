import { defineConfig } from 'vitest/config'

// Three projects: unit tests need nothing running; integration tests get real Redis, PostgreSQL and
// a Redis Cluster from the global setup (found or started, never mocked, never skipped); hostile
// tests attack the real servers (edge, demo app, CLI) on real sockets, as a lying client or a
// half-dead origin would.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/services/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Two cores: a few files at a time keeps Redis, Postgres and the timing-sensitive
          // failure tests from starving each other.
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'hostile',
          include: ['test/hostile/**/*.test.ts'],
          globalSetup: ['test/services/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          maxWorkers: 2,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
})
