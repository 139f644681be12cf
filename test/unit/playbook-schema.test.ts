import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { inventorySchemaText } from '../../src/inventory/schema.ts';
import { MODERN_KEYS } from '../../src/modern/model.ts';
import { playbookSchemaText } from '../../src/playbook/schema-text.ts';
import { RAMSTER_SETTINGS_SCHEMA } from '../../src/ramster/model.ts';

describe('schemas/playbook.schema.json', () => {
  it('is generated from the step registry (run `npm run schemas` after changing a step)', () => {
    expect(readFileSync('schemas/playbook.schema.json', 'utf8')).toBe(playbookSchemaText());
  });

  it('accepts the shipped example playbook and rejects an unknown step type', () => {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    const validate = ajv.compile(JSON.parse(playbookSchemaText()));
    expect(validate(parse(readFileSync('playbooks/example.yaml', 'utf8'))), JSON.stringify(validate.errors)).toBe(true);
    expect(validate([{ hosts: 'all', steps: [{ fiel: { path: '/x' } }] }])).toBe(false);
  });
});

describe('schemas/inventory.schema.json', () => {
  it("carries each backend's keys of the `ramster:` section from its own model (run `npm run schemas` after changing one)", () => {
    expect(readFileSync('schemas/inventory.schema.json', 'utf8')).toBe(inventorySchemaText());
    const keys = Object.keys(JSON.parse(inventorySchemaText()).$defs.cluster.properties);
    expect(keys).toEqual(expect.arrayContaining([...Object.keys(RAMSTER_SETTINGS_SCHEMA), ...MODERN_KEYS]));
  });
});
