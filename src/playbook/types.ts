import type { Diagnostic } from '../input/diagnostics.ts';

export interface Location {
  file: string;
  line: number;
  col: number;
}

export interface StepSpec {
  /** Position in its play's list (steps or handlers). */
  index: number;
  name: string;
  /** Step type, e.g. `file`. */
  type: string;
  args: Record<string, unknown>;
  when?: string;
  tags: string[];
  notify: string[];
  barrier?: 'cluster';
  timeoutS?: number;
  loc: Location;
  /** Location of the `when:` value, for expression errors. */
  whenLoc?: Location;
  /** Location of each top-level arg's value, for errors found after interpolation. */
  argLocs?: Record<string, Location>;
}

export interface Play {
  name: string;
  /** Host pattern: `all`, group or host names separated by `,` or `:`; `!name` excludes. */
  hosts: string;
  vars: Record<string, unknown>;
  steps: StepSpec[];
  handlers: StepSpec[];
  loc: Location;
}

export interface Playbook {
  file: string;
  /** Directory that `src:` paths of steps are relative to. */
  dir: string;
  plays: Play[];
  /** Values tagged `!sensitive` in the playbook (e.g. in play vars). */
  secrets: string[];
}

export function at(loc: Location, message: string, hint?: string): Diagnostic {
  return { ...loc, message, hint };
}
