import { editDistance } from '../input/suggest.ts';
import type { YamlPath } from '../input/yamlsource.ts';
import { describePath } from './describe.ts';
import { HOST_KEYS } from './schema.ts';

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

/** Names ramster-provision interprets (the rest are the user's variables). */
export const SETTING_NAMES: ReadonlySet<string> = new Set(HOST_KEYS);

const isMapping = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** Settings read like a Map: a host's own (a view of its mapping) or merged ones. */
export interface Settings {
  get(key: string): Setting | undefined;
  has(key: string): boolean;
  forEach(f: (setting: Setting, key: string) => void): void;
}

/**
 * The settings of one mapping (a host's, or a group's `vars:`), with the variables of its
 * nested `vars:` map added as they are, read from the mapping itself when asked: a large
 * inventory is mostly hosts, and a copy of each host's settings would double its size.
 */
export class MappingSettings implements Settings {
  constructor(
    private readonly values: Record<string, unknown>,
    private readonly path: YamlPath,
  ) {}

  get(key: string): Setting | undefined {
    if (this.isOwn(key)) return new Setting(this.values[key], this.path, key);
    return this.isDeclared(key) ? new Setting(this.declared()![key], this.path.concat('vars'), key) : undefined;
  }

  has(key: string): boolean {
    return this.isOwn(key) || this.isDeclared(key);
  }

  forEach(f: (setting: Setting, key: string) => void): void {
    for (const key of Object.keys(this.values))
      if (key !== 'vars') f(new Setting(this.values[key], this.path, key), key);
    const declared = this.declared();
    if (!declared) return;
    const declaredPath = this.path.concat('vars');
    for (const key of Object.keys(declared))
      if (this.keepsDeclared(key)) f(new Setting(declared[key], declaredPath, key), key);
  }

  private isOwn(key: string): boolean {
    return key !== 'vars' && Object.hasOwn(this.values, key);
  }

  private isDeclared(key: string): boolean {
    const declared = this.declared();
    return declared !== undefined && Object.hasOwn(declared, key) && this.keepsDeclared(key);
  }

  private declared(): Record<string, unknown> | undefined {
    const declared = this.values.vars;
    return isMapping(declared) ? declared : undefined;
  }

  /** A setting under `vars:`, or a name also given beside it, is reported by readSettings and left out. */
  private keepsDeclared(key: string): boolean {
    return !SETTING_NAMES.has(key) && !(key in this.values);
  }
}

/**
 * The settings of `values` (see MappingSettings), once its names are checked. Beside the
 * settings, a name within an edit or two of a setting's is a typo until declared under `vars:`
 * (`adress` would silently leave SSH going to the inventory name).
 */
export function readSettings(values: unknown, path: YamlPath, report: Report): MappingSettings | undefined {
  if (!isMapping(values)) return undefined;
  for (const key of Object.keys(values)) {
    const meant = key === 'vars' ? undefined : misspeltSetting(key);
    if (meant) {
      report(
        [...path, key],
        `${describePath([...path, key])} is not a setting, but its name is close to the setting \`${meant}\``,
        `did you mean \`${meant}\`? If \`${key}\` is a variable of your own for playbooks, declare it under a nested \`vars:\` map (e.g. \`vars: {${key}: ...}\`), where names are not checked`,
      );
    }
  }
  const declared = values.vars;
  if (isMapping(declared)) {
    for (const key of Object.keys(declared)) {
      if (SETTING_NAMES.has(key)) {
        report(
          [...path, 'vars', key],
          `\`${key}\` is a setting, but it is under \`vars:\`, which holds only your own variables`,
          `move \`${key}:\` up one level, next to \`vars:\`, so that ramster-provision uses it`,
        );
      } else if (key in values) {
        report(
          [...path, 'vars', key],
          `\`${key}\` is given twice: beside the settings and under \`vars:\``,
          `keep one of the two \`${key}:\` lines`,
        );
      }
    }
  }
  return new MappingSettings(values, path);
}

/** Names already looked at; null for a name that misspells no setting. */
const misspellings = new Map<string, string | null>();

/** The setting a free variable's name most likely misspells, if any. */
export function misspeltSetting(key: string): string | undefined {
  // Big inventories repeat the same few variable names on every host.
  let meant = misspellings.get(key);
  if (meant === undefined) {
    meant = closestSetting(key) ?? null;
    misspellings.set(key, meant);
  }
  return meant ?? undefined;
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
