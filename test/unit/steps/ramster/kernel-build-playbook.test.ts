import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { interpolateArgs } from '../../../../src/engine/interpolate.ts';
import { loadPlaybookText } from '../../../../src/playbook/load.ts';
import { evaluateCondition } from '../../../../src/playbook/expr.ts';
import { stepTypes } from '../../../../src/steps/registry.ts';

// playbooks/kernel.yaml is a list of steps the lead pastes into site.yaml: wrapped here into a
// play with the defaults it documents and the handler it notifies, as site.yaml has them.
const STEPS = readFileSync(join(import.meta.dirname, '../../../../playbooks/kernel.yaml'), 'utf8');
const PLAY = `- name: kernel stage
  hosts: all
  vars: {kernel_config_base: auto, kernel_config_extra: [], kernel_patches: [], kernel_build_host: first}
  steps:
${STEPS.split('\n')
  .map((l) => (l ? `    ${l}` : l))
  .join('\n')}
  handlers:
    - name: reboot the cluster together
      reboot: {timeout_s: 900}
      barrier: cluster
`;

const facts = { os_family: 'debian' };
const ramster = {
  backend: 'legacy',
  nodes: [
    { host: 'node1', number: 0 },
    { host: 'node2', number: 1 },
  ],
};
const defaults = {
  kernel_config_base: 'auto',
  kernel_config_extra: [],
  kernel_patches: [],
  kernel_build_host: 'first',
};

describe('playbooks/kernel.yaml', () => {
  const pb = loadPlaybookText(join(import.meta.dirname, '../../../../playbooks/site-kernel-test.yaml'), PLAY);
  const steps = pb.plays[0].steps;

  it('loads against the step schemas: build tools, kconfig, kernel_build, all tagged kernel', () => {
    expect(steps.map((s) => s.type)).toEqual(['package', 'package', 'kconfig', 'kernel_build']);
    expect(steps.every((s) => s.tags.includes('kernel'))).toBe(true);
    expect(steps[3].notify).toEqual(['reboot the cluster together']);
  });

  it('is skipped, step by step, when the inventory gives no kernel_source', () => {
    const vars = { ...defaults, facts, ramster, inventory_hostname: 'node1' };
    expect(steps.map((s) => evaluateCondition(s.when!, vars))).toEqual([false, false, false, false]);
  });

  it('with a kernel_source: build tools only on the build host (by family), config and build on every node', () => {
    const on = (host: string, extra: Record<string, unknown> = {}, f = facts) =>
      steps.map((s) =>
        evaluateCondition(s.when!, {
          ...defaults,
          facts: f,
          ramster,
          inventory_hostname: host,
          kernel_source: '/usr/src/linux-3.10.108',
          ...extra,
        }),
      );
    expect(on('node1')).toEqual([true, false, true, true]);
    expect(on('node2')).toEqual([false, false, true, true]);
    expect(on('node2', { kernel_build_host: 'node2' })).toEqual([true, false, true, true]);
    expect(on('node1', { kernel_build_host: 'control' })).toEqual([false, false, true, true]);
    expect(on('node1', {}, { os_family: 'redhat' })).toEqual([false, true, true, true]);
  });

  it('interpolates into args the step schemas accept (a git source stays an object)', () => {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    const vars = {
      ...defaults,
      kernel_source: { git: 'https://example.org/linux.git', ref: 'v3.10.108' },
      kernel_patches: ['patches/wasactive.patch'],
    };
    for (const s of steps.slice(2)) {
      const args = interpolateArgs(s.args, vars, 'kernel.yaml') as Record<string, unknown>;
      expect(ajv.validate(stepTypes.get(s.type)!.argsSchema, args), `${s.type}: ${ajv.errorsText()}`).toBe(true);
      expect(args.source).toEqual({ git: 'https://example.org/linux.git', ref: 'v3.10.108' });
    }
    expect(interpolateArgs(steps[3].args, vars, 'kernel.yaml')).toMatchObject({
      patches: ['patches/wasactive.patch'],
      build_host: 'first',
    });
  });
});
