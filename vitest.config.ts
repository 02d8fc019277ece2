import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // one temporary folder for the run's files, removed at its end
    globalSetup: ['test/helpers/global-tmp.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // SAM tests are CPU-heavy; two workers match the two cores CI has.
    pool: 'forks',
    maxWorkers: 2,
  },
})
