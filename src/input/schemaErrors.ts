import type { ErrorObject } from 'ajv';
import type { Diagnostic } from './diagnostics.ts';
import { closest } from './suggest.ts';
import type { YamlPath, YamlSource } from './yamlsource.ts';

/** Turns ajv errors (allErrors) for the value found at `base` in `source` into located
 *  diagnostics: unknown keys point at the key, other errors at the value. */
export function ajvDiagnostics(
  errors: ErrorObject[] | null | undefined,
  source: YamlSource,
  base: YamlPath,
  schema: Record<string, unknown>,
  what: string,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    const path = [
      ...base,
      ...e.instancePath
        .split('/')
        .slice(1)
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
        .map((s) => (/^\d+$/.test(s) ? Number(s) : s)),
    ];
    let message: string;
    let hint: string | undefined;
    let key = false;
    if (e.keyword === 'additionalProperties') {
      const prop = String((e.params as { additionalProperty: string }).additionalProperty);
      path.push(prop);
      key = true;
      const known = Object.keys(propsAt(schema, e.schemaPath) ?? {});
      const guess = closest(prop, known);
      message = `unknown key '${prop}' in ${what}`;
      hint = guess ? `did you mean '${guess}'?` : known.length ? `allowed keys: ${known.join(', ')}` : undefined;
    } else if (e.keyword === 'required') {
      message = `missing required key '${(e.params as { missingProperty: string }).missingProperty}' in ${what}`;
      hint = `add '${(e.params as { missingProperty: string }).missingProperty}: ...'`;
      key = true;
    } else if (e.keyword === 'enum') {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
      message = `${describePath(path)} must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
      hint = `got ${JSON.stringify(e.data)}`;
    } else if (e.keyword === 'type') {
      message = `${describePath(path)} must be ${(e.params as { type: string }).type}`;
      hint = `got ${JSON.stringify(e.data)}`;
    } else if (e.keyword === 'errorMessage') {
      const [m, h] = String(e.message).split(' | hint: ');
      message = m;
      hint = h;
    } else {
      message = `${describePath(path)} ${e.message}`;
    }
    const d = source.diag(path, message, hint, key);
    const k = `${d.line}:${d.col}:${d.message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(d);
  }
  return out;
}

function describePath(path: YamlPath): string {
  const last = [...path].reverse().find((p) => typeof p === 'string');
  return last ? `'${last}'` : 'value';
}

function propsAt(schema: Record<string, unknown>, schemaPath: string): Record<string, unknown> | undefined {
  // schemaPath looks like "#/properties/x/additionalProperties"; walk to the object holding it.
  const parts = schemaPath.replace(/^#\//, '').split('/').slice(0, -1);
  let cur: unknown = schema;
  for (const p of parts)
    cur = (cur as Record<string, unknown> | undefined)?.[decodeURIComponent(p.replace(/~1/g, '/').replace(/~0/g, '~'))];
  return (cur as { properties?: Record<string, unknown> } | undefined)?.properties;
}
