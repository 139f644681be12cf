import { defineConfig } from 'vitest/config';
import { labLimit } from '../helpers/machine.ts';

// QEMU lab suite: real guests, minutes per test, run one file at a time (2 cores).
// The limits only catch hangs, stretched for a loaded machine by labLimit (test/helpers/machine.ts):
// a hook may build the image cold (~4 min quiet, 26 min seen at load 10).
export default defineConfig({
  test: {
    include: ['test/lab/**/*.test.ts'],
    globalSetup: ['test/lab/global-setup.ts'],
    testTimeout: labLimit(900_000),
    hookTimeout: labLimit(1_800_000),
    fileParallelism: false,
    pool: 'forks',
    // The guests must not be reached the way the developer's ~/.ssh/config says (see test/vitest.config.ts).
    env: { RAMSTER_SSH_CONFIG: 'none' },
  },
});
