import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { runPlaybook } from '../../src/engine/run.ts';
import type { RunResult } from '../../src/engine/result.ts';
import { loadInventoryText } from '../../src/inventory/load.ts';
import { loadPlaybookText } from '../../src/playbook/load.ts';
import { CLI } from '../helpers/cli.ts';
export { CLI };

/** A scratch area per test: `root` is a folder target (connection: local), `outside` is the
 *  controller's own filesystem next to it, where no attack may leave a marker. */
export interface Lab {
  dir: string;
  root: string;
  outside: string;
  marker: (name: string) => string;
  cleanup(): void;
}

export function makeLab(): Lab {
  const dir = mkdtempSync(join(tmpdir(), 'rp-security-'));
  const root = join(dir, 'root');
  const outside = join(dir, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  return {
    dir,
    root,
    outside,
    marker: (n) => join(outside, n),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Inventory text for one folder host `h` with `vars` (YAML lines, indented under vars:). */
export function inventoryText(lab: Lab, vars = ''): string {
  return `all:\n  vars:\n    out: ${lab.outside}\n${vars}\n  hosts:\n    h: {address: 127.0.0.1, connection: local, root: ${lab.root}}\n`;
}

export async function runOn(lab: Lab, vars: string, steps: string, apply: boolean): Promise<RunResult> {
  const inv = loadInventoryText(join(lab.dir, 'inv.yaml'), inventoryText(lab, vars));
  const pb = loadPlaybookText(join(lab.dir, 'pb.yaml'), `- hosts: all\n  steps:\n${steps}`);
  return runPlaybook(inv, pb, { apply, forks: 4, connect: { acceptNewHostKeys: false, connectTimeoutMs: 5000 } });
}

/** Writes the inventory and playbook files of `lab` and returns their paths (for the CLI). */
export function writeFiles(lab: Lab, vars: string, playbook: string): { inv: string; pb: string } {
  const inv = join(lab.dir, 'inv.yaml');
  const pb = join(lab.dir, 'pb.yaml');
  writeFileSync(inv, inventoryText(lab, vars));
  writeFileSync(pb, playbook);
  return { inv, pb };
}

export const cli = (...args: string[]) => execa('node', [CLI, ...args], { reject: false, env: { NO_COLOR: '1' } });

/** The step error of the one host, or its host error. */
export const errorOf = (r: RunResult) =>
  r.hosts[0].steps.find((s) => s.status === 'failed')?.message ?? r.hosts[0].error ?? '';

export const absent = (p: string) => !existsSync(p);
