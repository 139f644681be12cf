import { defineConfig } from 'vitest/config';

// `npm test`: unit tests, integration tests against real local services (sshd), and the
// security suite (test/security: one test per attack class).
// QEMU-guest suites live in test/lab and run with `npm run test:integration`.
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/security/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
