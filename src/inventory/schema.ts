import { readFileSync } from 'node:fs';
import Ajv2020Module, { type ErrorObject } from 'ajv/dist/2020.js';
import ajvErrorsModule from 'ajv-errors';
import addFormatsModule from 'ajv-formats';
import type { Diagnostic } from '../input/diagnostics.ts';
import type { YamlPath, YamlSource } from '../input/yamlsource.ts';
import { describePath, describeValue, placeOf } from './describe.ts';
import { closest } from '../input/suggest.ts';
import { MODERN_SETTINGS_SCHEMA } from '../modern/model.ts';
import { RAMSTER_SETTINGS_SCHEMA } from '../ramster/model.ts';

/** schemas/inventory.schema.json with each backend's keys of the `ramster:` section taken from
 *  its own model (`npm run schemas` writes the result back; a unit test keeps the file current). */
export function withBackendSettings(schema: InventorySchema): InventorySchema {
  const out = structuredClone(schema);
  const { cluster, backend, topology } = schema.$defs.cluster.properties;
  out.$defs.cluster.properties = {
    cluster,
    ...structuredClone(RAMSTER_SETTINGS_SCHEMA),
    backend,
    topology,
    ...structuredClone(MODERN_SETTINGS_SCHEMA),
  };
  return out;
}

// biome-ignore lint/suspicious/noExplicitAny: a JSON schema document, read as data
type InventorySchema = Record<string, any>;

export const inventorySchema = withBackendSettings(
  JSON.parse(readFileSync(new URL('../../schemas/inventory.schema.json', import.meta.url), 'utf8')),
);

/** The exact text of schemas/inventory.schema.json. */
export const inventorySchemaText = () => `${JSON.stringify(inventorySchema, null, 2)}\n`;

// CommonJS packages: under Node's ESM loader the default import is `module.exports`, which
// these packages also expose as `.default` (the only form TypeScript's NodeNext types accept).
const Ajv2020 = Ajv2020Module.default;
const addFormats = addFormatsModule.default;
const ajvErrors = ajvErrorsModule.default;

const ajv = new Ajv2020({ allErrors: true, allowUnionTypes: true, strict: true });
addFormats(ajv, ['ipv4']);
ajvErrors(ajv);
const validate = ajv.compile(inventorySchema);

const defs = inventorySchema.$defs;
const GROUP_KEYS = Object.keys(defs.group.properties);
const CLUSTER_KEYS = Object.keys(defs.cluster.properties);
/** Keys of a host (or of group vars) that ramster-provision interprets; the rest are free-form vars. */
export const HOST_KEYS: readonly string[] = Object.keys(defs.hostVars.properties);

/** Custom messages in the schema read "what is wrong\nhint: how to fix it". */
function splitMessage(text: string): { message: string; hint?: string } {
  const at = text.indexOf('\nhint: ');
  return at < 0 ? { message: text } : { message: text.slice(0, at), hint: text.slice(at + '\nhint: '.length) };
}

function pathOf(pointer: string): YamlPath {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function valueAt(root: unknown, path: YamlPath): unknown {
  let v = root;
  for (const seg of path)
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[seg as string] : undefined;
  return v;
}

function unknownKeyDiagnostic(source: YamlSource, path: YamlPath, key: string): Diagnostic {
  const place = placeOf(path);
  const known =
    place.kind === 'root' ? ['all'] : place.kind === 'groupKey' && place.key === 'ramster' ? CLUSTER_KEYS : GROUP_KEYS;
  const guess = closest(key, known);
  const didYouMean = guess ? `did you mean \`${guess}\`? ` : '';
  if (place.kind === 'root') {
    const move = GROUP_KEYS.includes(key)
      ? `indent \`${key}:\` under \`all:\``
      : `put groups under \`all:\` → \`children:\``;
    return source.diag(
      [key],
      `unknown top-level key \`${key}\``,
      `${didYouMean}an inventory has one top-level key, \`all:\`; ${move}`,
      true,
    );
  }
  const where = describePath(path);
  const hint =
    known === GROUP_KEYS
      ? `${didYouMean}a group may contain only ${GROUP_KEYS.map((k) => `\`${k}\``).join(', ')}; put hosts under \`hosts:\` and sub-groups under \`children:\``
      : `${didYouMean}the cluster settings are: ${CLUSTER_KEYS.join(', ')}`;
  return source.diag([...path, key], `${where} has an unknown key \`${key}\``, hint, true);
}

function toDiagnostic(source: YamlSource, e: ErrorObject): Diagnostic {
  const path = pathOf(e.instancePath);
  if (e.keyword === 'additionalProperties')
    return unknownKeyDiagnostic(source, path, (e.params as { additionalProperty: string }).additionalProperty);

  const original =
    e.keyword === 'errorMessage' ? ((e.params as { errors: ErrorObject[] }).errors[0]?.keyword ?? '') : e.keyword;
  const value = valueAt(source.value, path);
  const { message, hint } =
    e.keyword === 'errorMessage'
      ? splitMessage(e.message ?? '')
      : { message: e.message ?? 'is invalid', hint: 'see schemas/inventory.schema.json for the allowed values' };
  const where = describePath(path);
  if (original === 'required') return source.diag(path, `${where} ${message}`, hint, true);
  const scalar = value !== null && value !== undefined && typeof value !== 'object';
  // Scalars are reported where the value is; mappings, lists and empty values at their key.
  const shown = typeof value === 'number' ? (source.written(path) ?? describeValue(value)) : describeValue(value);
  return source.diag(path, `${where} ${message} (got ${shown})`, hint, !scalar);
}

/** Every schema violation in the parsed inventory, with positions. */
export function schemaDiagnostics(source: YamlSource): Diagnostic[] {
  if (Array.isArray(source.value)) {
    return [
      source.diag(
        [],
        'this file is a YAML list, so it is not an inventory: an inventory is a mapping that starts with `all:`',
        'a list of plays is a playbook: give it as the playbook, not with `-i`; for the shape of an inventory see playbooks/inventory.example.yaml',
      ),
    ];
  }
  if (validate(source.value)) return [];
  const errors = validate.errors ?? [];
  // An unknown top-level key is usually a misspelt or missing `all:`; saying both is noise.
  const unknownAtRoot = errors.some((e) => e.keyword === 'additionalProperties' && e.instancePath === '');
  return errors
    .filter((e) => !(unknownAtRoot && e.instancePath === '' && e.keyword === 'errorMessage'))
    .map((e) => toDiagnostic(source, e));
}
