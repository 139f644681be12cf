import { describe, expect, it } from 'vitest';
import { stepTypes } from '../../src/steps/registry.ts';
import type { FromSchema } from '../../src/steps/schema.ts';
import { defineStep, noChange } from '../../src/steps/types.ts';

// The tie between a step's args type and its argsSchema is checked by the compiler: the
// `@ts-expect-error` lines below fail `npm run typecheck` (tsc over src/ and test/) if defineStep
// ever stops refusing them. The runtime assertions only keep vitest honest about the file.

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const typeIs = <T extends true>(ok: T): T => ok;

const checkApply = async () => noChange('nothing');

describe('FromSchema: the static type of what a schema accepts', () => {
  it('reads types, enums, required keys, items, oneOf/anyOf and empty objects', () => {
    const schema = {
      type: 'object',
      required: ['path', 'value'],
      additionalProperties: false,
      oneOf: [{ required: ['path'] }], // a constraint beside properties: no change of type
      properties: {
        path: { type: 'string', pattern: '^/' },
        value: { type: ['string', 'integer'] },
        state: { enum: ['present', 'absent'] },
        words: { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] } },
        cmd: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
        src: {
          oneOf: [
            { type: 'string' },
            {
              type: 'object',
              required: ['git'],
              additionalProperties: false,
              properties: { git: { type: 'string' }, ref: { type: 'string' } },
            },
          ],
        },
        on: { type: 'boolean' },
        fixed: { const: 3 },
      },
    } as const;
    type Want = {
      path: string;
      value: string | number;
      state?: 'present' | 'absent';
      words?: (string | string[])[];
      cmd?: string | string[];
      src?: string | { git: string; ref?: string };
      on?: boolean;
      fixed?: 3;
    };
    expect(typeIs<Equal<FromSchema<typeof schema>, Want>>(true)).toBe(true);
    const none = { type: 'object', additionalProperties: false, properties: {} } as const;
    expect(typeIs<Equal<FromSchema<typeof none>, Record<string, never>>>(true)).toBe(true);
  });
});

describe('defineStep ties the args type to argsSchema', () => {
  type Args = { path: string; mode?: string | number };
  const properties = { path: { type: 'string' }, mode: { type: ['string', 'integer'] } } as const;

  it('accepts a schema that fits', () => {
    const step = defineStep<Args>()({
      name: 'ok',
      description: '',
      argsSchema: { type: 'object', required: ['path'], additionalProperties: false, properties },
      checkApply,
    });
    expect(step.name).toBe('ok');
  });

  it('refuses a key in one and not the other, a required mismatch, and a schema admitting more than the type', () => {
    // @ts-expect-error the args type has `mode`, the schema does not
    defineStep<Args>()({
      name: 'a',
      description: '',
      argsSchema: { type: 'object', required: ['path'], properties: { path: properties.path } },
      checkApply,
    });
    // @ts-expect-error the schema has `owner`, the args type does not
    defineStep<Args>()({
      name: 'b',
      description: '',
      argsSchema: { type: 'object', required: ['path'], properties: { ...properties, owner: { type: 'string' } } },
      checkApply,
    });
    // @ts-expect-error `path` is required in the args type, optional in the schema
    defineStep<Args>()({ name: 'c', description: '', argsSchema: { type: 'object', properties }, checkApply });
    // @ts-expect-error the schema lets an integer mode through, the args type says string only
    defineStep<{ path: string; mode?: string }>()({
      name: 'd',
      description: '',
      argsSchema: { type: 'object', required: ['path'], properties },
      checkApply,
    });
    expect(true).toBe(true);
  });

  it('holds for every registered step (the registry compiles without a cast)', () => {
    expect(stepTypes.size).toBeGreaterThan(20);
    for (const s of stepTypes.values()) expect(s.argsSchema).toMatchObject({ type: 'object' });
  });
});
