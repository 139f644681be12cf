import { defineConfig } from 'vitest/config';

// `npm test`: unit tests, integration tests against real local services (sshd), and the
// security suite (test/security: one test per attack class).
// QEMU-guest suites live in test/lab and run with `npm run test:integration`.
// The limits only catch hangs: a test on a 2-core machine at load 50 runs ~25x slower than
// idle, so they are generous (10 / 20 min); tests doing heavy work (make on a kernel tree,
// containers) set larger ones with machineLimit (test/helpers/machine.ts).
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/security/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 1_200_000,
    pool: 'forks',
    // The tests' hosts must not go where the developer's ~/.ssh/config sends them (a `Host *`
    // ProxyJump, say); the ssh_config tests name their files themselves.
    env: { RAMSTER_SSH_CONFIG: 'none' },
  },
});
