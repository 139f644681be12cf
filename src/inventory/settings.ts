import { editDistance } from '../suggest.ts';
import type { YamlPath } from '../yamlsource.ts';
import { describePath } from './describe.ts';
import { HOST_KEYS } from './schema.ts';
import type { Settings } from './tree.ts';

/** A value with the place in the file it came from, so later checks can point at it. The path
 *  is put together only when asked for: a large inventory has hundreds of thousands of settings,
 *  and a message is needed for few of them. */
export class Setting {
  constructor(
    readonly value: unknown,
    private readonly mapping: YamlPath,
    private readonly key: string,
  ) {}

  get path(): YamlPath {
    return [...this.mapping, this.key];
  }
}

export type Report = (path: YamlPath, message: string, hint: string) => void;

const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Adds to `into` the settings of one mapping (a host's, or a group's `vars:`), with the
 * variables of its nested `vars:` map added as they are. Beside the settings, a name within an
 * edit or two of a setting's is a typo until declared under `vars:` (`adress` would silently
 * leave SSH going to the inventory name).
 */
export function readSettings(values: unknown, path: YamlPath, report: Report, into: Settings): void {
  if (!isMapping(values)) return;
  for (const [key, value] of Object.entries(values)) {
    if (key === 'vars') continue;
    const meant = misspeltSetting(key);
    if (meant) {
      report(
        [...path, key],
        `${describePath([...path, key])} is not a setting, but its name is close to the setting \`${meant}\``,
        `did you mean \`${meant}\`? If \`${key}\` is a variable of your own for playbooks, declare it under a nested \`vars:\` map (e.g. \`vars: {${key}: ...}\`), where names are not checked`,
      );
    }
    into.set(key, new Setting(value, path, key));
  }
  const declared = values.vars;
  if (!isMapping(declared)) return;
  const declaredPath = path.concat('vars');
  for (const [key, value] of Object.entries(declared)) {
    const at = [...declaredPath, key];
    if (HOST_KEYS.includes(key)) {
      report(at, `\`${key}\` is a setting, but it is under \`vars:\`, which holds only your own variables`, `move \`${key}:\` up one level, next to \`vars:\`, so that ramster-provision uses it`);
    } else if (key in values) {
      report(at, `\`${key}\` is given twice: beside the settings and under \`vars:\``, `keep one of the two \`${key}:\` lines`);
    } else into.set(key, new Setting(value, declaredPath, key));
  }
}

const misspellings = new Map<string, string | undefined>();

/** The setting a free variable's name most likely misspells, if any. */
export function misspeltSetting(key: string): string | undefined {
  // Big inventories repeat the same few variable names on every host.
  if (!misspellings.has(key)) misspellings.set(key, closestSetting(key));
  return misspellings.get(key);
}

function closestSetting(key: string): string | undefined {
  if (HOST_KEYS.includes(key)) return undefined;
  const word = key.toLowerCase();
  let best: { known: string; distance: number } | undefined;
  for (const known of HOST_KEYS) {
    // One edit for short names, two for names of 8 letters or more (`become_pasword`, `cluster_adress`).
    const allowed = known.length >= 8 ? 2 : 1;
    if (Math.abs(word.length - known.length) > allowed) continue;
    const distance = editDistance(word, known);
    if (distance <= allowed && (!best || distance < best.distance)) best = { known, distance };
  }
  return best?.known;
}
