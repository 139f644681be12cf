import { defineConfig } from 'vitest/config';

// QEMU lab suite: real guests, minutes per test, run one file at a time (2 cores).
// The limits only catch hangs (TCG guests run as fast as the machine lets them): a hook may
// build the image cold (~4 min idle, 26 min seen at load 10), so hooks get 3 h and tests 1 h.
export default defineConfig({
  test: {
    include: ['test/lab/**/*.test.ts'],
    globalSetup: ['test/lab/global-setup.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 10_800_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
