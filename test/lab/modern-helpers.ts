/** Shared parts of the modern backend's lab suites and benchmark: inventories with modern
 *  settings, the memory workload on a guest, and `status --json` figures. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { ModernStatus } from '../../src/modern/verify.ts';
import { REPO_ROOT } from '../../src/guestimage/paths.ts';
import { cli } from './cli.ts';
import { onGuest, type TestLab } from './helpers.ts';
import { labLimit } from '../helpers/machine.ts';

export const WORKLOAD = readFileSync(join(REPO_ROOT, 'test', 'lab', 'fixtures', 'memory-workload.py'), 'utf8');

/** The lab's inventory with `backend: modern` and these cluster settings, as a new file. */
export function modernInventory(lab: TestLab, name: string, settings: Record<string, unknown>): string {
  const doc = parse(readFileSync(lab.state.inventory, 'utf8'));
  const group = doc.all.children.lab;
  group.ramster = { ...group.ramster, backend: 'modern', ...settings };
  const file = join(lab.dir, `inventory-${name}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}

export interface Workload {
  unit: string;
  out: string;
}

/** Starts the workload on a guest as a transient unit confined to `memoryMaxMb`, so its pages
 *  must go to swap; its output goes to a file the test polls. */
export async function startWorkload(
  lab: TestLab,
  node: string,
  opts: { mib: number; holdS: number; memoryMaxMb: number; unit?: string },
): Promise<Workload> {
  const unit = opts.unit ?? 'ramster-workload';
  const out = `/root/${unit}.out`;
  await onGuest(
    lab.state,
    node,
    `cat > /root/memory-workload.py && rm -f ${out} && systemctl reset-failed ${unit} 2>/dev/null; true`,
    labLimit(30_000),
    WORKLOAD,
  );
  await onGuest(
    lab.state,
    node,
    `systemd-run --unit=${unit} --collect -p MemoryMax=${opts.memoryMaxMb}M -p MemorySwapMax=8G -p StandardOutput=file:${out} -p StandardError=file:${out} python3 /root/memory-workload.py ${opts.mib} ${opts.holdS}`,
  );
  return { unit, out };
}

/** Polls the workload's output until `pattern` shows (or the unit ended without it). */
export async function waitWorkload(
  lab: TestLab,
  node: string,
  w: Workload,
  pattern: RegExp,
  timeoutMs: number,
): Promise<string> {
  const end = Date.now() + timeoutMs;
  // a guest that answers no SSH for this long is wedged, not slow: fail now, not at `end`
  const unreachableLimit = labLimit(120_000);
  let unreachableSince: number | undefined;
  for (;;) {
    const text = await onGuest(
      lab.state,
      node,
      `cat ${w.out} 2>/dev/null; echo "@state $(systemctl is-active ${w.unit} 2>/dev/null)"`,
      labLimit(60_000),
    ).catch((e: Error) => `@error ${e.message}`);
    if (pattern.test(text)) return text;
    unreachableSince = text.startsWith('@error') ? (unreachableSince ?? Date.now()) : undefined;
    if (unreachableSince !== undefined && Date.now() - unreachableSince > unreachableLimit)
      throw new Error(
        `workload ${w.unit} on ${node}: the guest answered no SSH for ${unreachableLimit / 1000}s:\n${text}`,
      );
    if (/@state (inactive|failed)/.test(text) && !/@state .*activ/.test(text.replace(/@state (inactive|failed)/, ''))) {
      if (!pattern.test(text)) throw new Error(`workload ${w.unit} on ${node} ended without ${pattern}:\n${text}`);
    }
    if (Date.now() > end)
      throw new Error(`workload ${w.unit} on ${node}: no ${pattern} after ${timeoutMs / 1000}s:\n${text}`);
    await new Promise((r) => setTimeout(r, 3000));
  }
}

/** `ramster-provision status --json`, per host. */
export async function modernStatusOf(
  inventory: string,
): Promise<Record<string, ModernStatus & Record<string, unknown>>> {
  const r = await cli(['status', '-i', inventory, '--json']);
  if (r.code !== 0) throw new Error(`status exit ${r.code}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { hosts: Record<string, ModernStatus & Record<string, unknown>> }).hosts;
}
