import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { stepSchemas, stepTypes } from '../../../src/steps/registry.ts';

describe('step registry', () => {
  it('holds every generic step type', () => {
    expect([...stepTypes.keys()].sort()).toEqual([
      'blockinfile',
      'command',
      'file',
      'grub_cmdline',
      'kconfig',
      'kernel_build',
      'lineinfile',
      'modern_borrow',
      'modern_conf',
      'modern_lend',
      'modern_release',
      'modern_unlend',
      'modern_verify',
      'mount',
      'package',
      'preflight',
      'ramster_bringup',
      'ramster_conf',
      'ramster_defaults',
      'ramster_rclocal',
      'ramster_verify',
      'reboot',
      'service',
      'sysfs',
      'template',
    ]);
  });

  it('gives each step a strict, described args schema that compiles', () => {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    for (const [name, schema] of Object.entries(stepSchemas())) {
      expect(schema.additionalProperties, name).toBe(false);
      for (const [prop, s] of Object.entries(schema.properties as Record<string, { description?: string }>))
        expect(s.description, `${name}.${prop}`).toMatch(/\w/);
      expect(() => ajv.compile(schema), name).not.toThrow();
      expect(stepTypes.get(name)!.description, name).toMatch(/\w/);
    }
  });

  it('rejects unknown args and accepts typical ones', () => {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    const s = stepSchemas();
    expect(ajv.validate(s.package, { name: ['a', 'b'], state: 'present' })).toBe(true);
    expect(ajv.validate(s.package, { name: 'a', version: '1' })).toBe(false);
    expect(ajv.validate(s.sysfs, { path: '/sys/kernel/mm/ramster/manual_node_up', value: 1, match: 'contains' })).toBe(
      true,
    );
    expect(ajv.validate(s.sysfs, { path: '/etc/x', value: 1 })).toBe(false);
    expect(ajv.validate(s.service, { name: 'ssh', state: 'running' })).toBe(false);
  });
});
