/**
 * Staging RAMster (Linux 3.10) on two sysvinit guests, the CI tier's part: the HOW-TO's kernel
 * path run by the tool (built on this machine once, cached), both guests booted into it, the
 * cluster Online through RAMster's configfs, verify --strict on every check, doctor on the real
 * kernel lines (test/lab/ramster-kernel-cases.ts). The workload beyond RAM, the reboot with pages
 * remote and the symmetric topology: ramster-kernel-lifecycle.test.ts (extended tier; see the
 * README's "The RAMster kernel lab" for why the workload is not in this tier yet).
 */
import { describe } from 'vitest';
import { remotifyCases } from './ramster-kernel-cases.ts';

describe('staging RAMster (Linux 3.10) on a two-node sysvinit lab: boot, cluster Online, verify', () => {
  remotifyCases('ramster-kernel', { workload: false });
});
