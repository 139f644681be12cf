import { defineConfig } from 'vitest/config';

// QEMU lab suite: real guests, minutes per test, run one file at a time (2 cores).
export default defineConfig({
  test: {
    include: ['test/lab/**/*.test.ts'],
    globalSetup: ['test/lab/global-setup.ts'],
    testTimeout: 900_000,
    hookTimeout: 1_800_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
