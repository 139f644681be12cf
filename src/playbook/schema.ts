/** The playbook JSON Schema, generated from the step registry so the two cannot drift:
 *  `npm run schemas` writes schemas/playbook.schema.json; a unit test checks it is current. */

export const SCHEMA_ID = 'https://ramster-provision.dev/schemas/playbook.schema.json';

const commonStepProps = {
  name: { type: 'string', description: 'What the step does, shown in the plan and recap.' },
  when: {
    type: 'string',
    description: "Condition, e.g. \"facts.os_family == 'debian' and ramster.node.number == 0\". Never eval'd.",
  },
  tags: { type: 'array', items: { type: 'string' }, description: 'Select with --tags / --skip-tags.' },
  notify: {
    type: 'array',
    items: { type: 'string' },
    description: 'Handlers to run at the end of the play when this step changed something.',
  },
  barrier: {
    enum: ['cluster'],
    description: 'Every live host of the cluster must reach this step before any host runs it.',
  },
  timeout_s: {
    type: 'integer',
    minimum: 1,
    description: 'Abandon a single remote command of this step after this many seconds.',
  },
} as const;

export const COMMON_STEP_KEYS = Object.keys(commonStepProps);

/** Structure of a playbook without step arguments (those are checked per step type). */
export function structureSchema(stepNames: string[]): Record<string, unknown> {
  return {
    type: 'array',
    minItems: 1,
    items: {
      type: 'object',
      required: ['hosts'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', description: 'Name of the play.' },
        hosts: {
          type: 'string',
          description: "Host pattern: 'all', group or host names separated by ',' or ':', '!name' excludes.",
        },
        vars: {
          type: 'object',
          description: 'Default variables for the steps of the play; the inventory (all, groups, host) overrides them.',
        },
        steps: { type: 'array', items: stepItem(stepNames), description: 'Ordered steps.' },
        handlers: {
          type: 'array',
          items: stepItem(stepNames),
          description: 'Steps run once at the end of the play, in this order, when notified.',
        },
      },
    },
  };
}

function stepItem(stepNames: string[]): Record<string, unknown> {
  return {
    type: 'object',
    properties: { ...commonStepProps, ...Object.fromEntries(stepNames.map((n) => [n, {}])) },
  };
}

const TEMPLATE = { type: 'string', pattern: '^\\{\\{[^}]*\\}\\}$' };

/** Any value may also be a `{{ variable }}` reference (checked after interpolation): string
 *  patterns accept one, and non-string types accept one as an alternative. */
function allowTemplates(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(allowTemplates);
  if (!schema || typeof schema !== 'object') return schema;
  const out = Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [
      k,
      k === 'pattern' && typeof v === 'string'
        ? `(?:${v})|\\{\\{`
        : k === 'properties' && v && typeof v === 'object'
          ? Object.fromEntries(Object.entries(v).map(([p, x]) => [p, orTemplate(allowTemplates(x))]))
          : allowTemplates(v),
    ]),
  );
  return out;
}

function orTemplate(schema: unknown): unknown {
  const s = schema as { type?: string | string[]; description?: string };
  const types = s && typeof s === 'object' && s.type !== undefined ? [s.type].flat() : undefined;
  if (!types || types.includes('string')) return schema;
  return { description: s.description, anyOf: [schema, TEMPLATE] };
}

export function buildPlaybookSchema(
  stepSchemas: Record<string, Record<string, unknown>>,
  descriptions: Record<string, string>,
): Record<string, unknown> {
  const names = Object.keys(stepSchemas).sort();
  const step = {
    type: 'object',
    properties: {
      ...commonStepProps,
      ...Object.fromEntries(
        names.map((n) => [n, { ...(allowTemplates(stepSchemas[n]) as object), description: descriptions[n] }]),
      ),
    },
    additionalProperties: false,
    oneOf: names.map((n) => ({ required: [n] })),
  };
  const base = structureSchema(names) as { items: { properties: Record<string, unknown> } };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: SCHEMA_ID,
    title: 'ramster-provision playbook',
    description: 'A list of plays; each play runs ordered steps on the hosts its pattern selects.',
    ...base,
    items: {
      ...(base.items as object),
      properties: {
        ...base.items.properties,
        steps: { type: 'array', items: { $ref: '#/$defs/step' }, description: 'Ordered steps.' },
        handlers: {
          type: 'array',
          items: { $ref: '#/$defs/step' },
          description: 'Run once at the end of the play when notified.',
        },
      },
    },
    $defs: { step },
  };
}
