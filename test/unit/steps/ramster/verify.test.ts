import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyStep } from '../../../../src/steps/ramster/verify.ts';
import { LocalTransport } from '../../../../src/transport/local.ts';
import { tempRoot } from '../helpers.ts';
import { clusterHosts, ramsterCtx } from './fixtures.ts';

// The checks themselves are tested in test/unit/ramster/verify.test.ts (verifyNode); here,
// what the step does with them.
let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir: root, cleanup } = await tempRoot('rp-verify-')));
afterEach(() => cleanup());
const vars = clusterHosts(2, 'one-way');

describe('ramster_verify step', () => {
  it('is skipped on an image folder: there is no booted kernel to check', async () => {
    const c = await verifyStep.checkApply({}, ramsterCtx(new LocalTransport(root), true, 'host0', vars.get('host0')!));
    expect(c).toMatchObject({ action: 'none' });
    expect(c.skipped).toMatch(/once booted/);
  });

  it('on this machine (not provisioned, no RAMster kernel) fails listing each gap with its fix', async () => {
    const err = await verifyStep
      .checkApply({}, ramsterCtx(new LocalTransport(''), true, 'host0', vars.get('host0')!))
      .catch((e: Error) => e.message);
    expect(err).toMatch(/^node 0 \(host0\) fails \d+ check\(s\):/);
    expect(err).toContain('ramster-ctl installed: (nothing) (fix: run: ramster-provision apply --tags tools)');
    expect(err).toContain('/etc/ramster.conf is the one rendered from the inventory: missing');
    // kernel-side checks are not failures on a kernel without RAMster
    expect(err).not.toMatch(/manual_node_up|remote target/);
  });
});
