/**
 * Staging RAMster (Linux 3.10) on two sysvinit guests, the CI tier's part: the HOW-TO's kernel
 * path run by the tool, the cluster Online through RAMster's configfs, pages remotified to the
 * other node and read back intact, doctor on the real lines (test/lab/ramster-kernel-cases.ts).
 * The reboot and symmetric cases: ramster-kernel-lifecycle.test.ts (extended tier).
 */
import { describe } from 'vitest';
import { remotifyCases } from './ramster-kernel-cases.ts';

describe('staging RAMster (Linux 3.10) on a two-node sysvinit lab: boot and remotify', () => {
  remotifyCases('ramster-kernel');
});
