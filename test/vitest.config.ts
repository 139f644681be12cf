import { defineConfig } from 'vitest/config';

// `npm test`: unit tests and integration tests against real local services (sshd).
// QEMU-guest suites live in test/lab and run with `npm run test:integration`.
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
