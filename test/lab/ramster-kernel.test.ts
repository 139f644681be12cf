/**
 * Staging RAMster (Linux 3.10) on two sysvinit guests, the CI tier's part: the HOW-TO's kernel
 * path run by the tool (built on this machine once, cached), both guests booted into it, the
 * cluster Online through RAMster's configfs, verify --strict on every check, a workload beyond
 * the client's RAM whose pages go to the server and read back intact (status: foreign_pages on
 * the server, remote gets on the client), and doctor on the real kernel lines
 * (test/lab/ramster-kernel-cases.ts). The reboot with pages remote and the symmetric topology:
 * ramster-kernel-lifecycle.test.ts; the RAM server on three guests: ramster-kernel-three.test.ts
 * (extended tier).
 */
import { describe } from 'vitest';
import { remotifyCases } from './ramster-kernel-cases.ts';

describe('staging RAMster (Linux 3.10) on a two-node sysvinit lab: boot, cluster Online, verify, pages remote and back', () => {
  remotifyCases('ramster-kernel', { workload: true });
});
