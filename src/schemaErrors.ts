import type { ErrorObject } from 'ajv';
import type { Diagnostic } from './diagnostics.ts';
import type { YamlPath, YamlSource } from './yamlsource.ts';

/** Levenshtein distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestD) [best, bestD] = [c, dist];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** Turns ajv errors (allErrors) for the value found at `base` in `source` into located
 *  diagnostics: unknown keys point at the key, other errors at the value. */
export function ajvDiagnostics(errors: ErrorObject[] | null | undefined, source: YamlSource, base: YamlPath, schema: Record<string, unknown>, what: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    const path = [...base, ...e.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).map((s) => (/^\d+$/.test(s) ? Number(s) : s))];
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
    if (!seen.has(k)) (seen.add(k), out.push(d));
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
  for (const p of parts) cur = (cur as Record<string, unknown> | undefined)?.[decodeURIComponent(p.replace(/~1/g, '/').replace(/~0/g, '~'))];
  return (cur as { properties?: Record<string, unknown> } | undefined)?.properties;
}
