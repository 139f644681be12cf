/** Shared parts of the modern backend's lab suites and benchmark: inventories with modern
 *  settings, the memory workload on a guest, and `status --json` figures. */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { ModernStatus } from '../../src/modern/verify.ts';
import { REPO_ROOT } from '../../src/guestimage/paths.ts';
import { guestOf } from '../../src/lab/index.ts';
import { changedSteps, cli, cliJson, explain } from './cli.ts';
import { expect } from 'vitest';
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
  opts: { mib: number; holdS: number; memoryMaxMb: number; unit?: string; markerHex?: string },
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
    `systemd-run --unit=${unit} --collect -p MemoryMax=${opts.memoryMaxMb}M -p MemorySwapMax=8G -p StandardOutput=file:${out} -p StandardError=file:${out} python3 /root/memory-workload.py ${opts.mib} ${opts.holdS}${opts.markerHex ? ` ${hexOnly(opts.markerHex)}` : ''}`,
  );
  return { unit, out };
}

const hexOnly = (hex: string) => {
  if (!/^[0-9a-f]+$/.test(hex)) throw new Error(`not a hex marker: ${hex}`);
  return hex;
};

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
  const serial = consoleFrom(lab, node);
  for (;;) {
    const text = await onGuest(
      lab.state,
      node,
      `cat ${w.out} 2>/dev/null; echo "@state $(systemctl is-active ${w.unit} 2>/dev/null)"`,
      labLimit(60_000),
    ).catch((e: Error) => `@error ${e.message}`);
    if (pattern.test(text)) return text;
    unreachableSince = text.startsWith('@error') ? (unreachableSince ?? Date.now()) : undefined;
    if (unreachableSince !== undefined) {
      const oops = serial.panic();
      if (oops) throw new GuestPanicError(node, w.unit, oops);
    }
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

/** The guest's kernel panicked (its serial console says so): it will not answer again until it
 *  is restarted. */
export class GuestPanicError extends Error {
  constructor(
    readonly node: string,
    unit: string,
    readonly oops: string,
  ) {
    super(`workload ${unit} on ${node}: the guest's kernel panicked:\n${oops}`);
  }
}

/** What a guest's serial console (kernel messages) says from now on: the lines of a kernel
 *  panic, with the oops that led to it, or undefined. */
function consoleFrom(lab: TestLab, node: string): { panic: () => string | undefined } {
  const file = guestOf(lab.state, node).consoleLog;
  const size = () => {
    try {
      return statSync(file).size;
    } catch {
      return 0;
    }
  };
  const start = size();
  return {
    panic: () => {
      if (size() <= start) return undefined;
      const lines = readFileSync(file).subarray(start).toString('utf8').split('\n');
      const at = lines.findIndex((l) => l.includes('Kernel panic - not syncing'));
      if (at < 0) return undefined;
      const oopsAt = lines.findIndex((l) => /(Oops|BUG|PANIC):/.test(l));
      return lines
        .slice(oopsAt >= 0 && oopsAt < at ? oopsAt : at, at + 1)
        .filter((l) => /Oops|BUG|PANIC|RIP:|Workqueue:|Comm:|Kernel panic|^\[[ \d.]+\] {2}[a-z_][\w.]*\+0x/.test(l))
        .slice(0, 24)
        .join('\n');
    },
  };
}

/** `ramster-provision status --json`, per host. */
export async function modernStatusOf(
  inventory: string,
): Promise<Record<string, ModernStatus & Record<string, unknown>>> {
  const r = await cli(['status', '-i', inventory, '--json']);
  if (r.code !== 0) throw new Error(`status exit ${r.code}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { hosts: Record<string, ModernStatus & Record<string, unknown>> }).hosts;
}

export const CONFIDENTIALITY_PROBE = readFileSync(
  join(REPO_ROOT, 'test', 'lab', 'fixtures', 'confidentiality-probe.py'),
  'utf8',
);

export interface MarkerSeen {
  /** Seconds the workload took to write its marked pages (most of them into remote swap). */
  writtenS: number;
  /** KiB of the borrower's swap in use while its workload held the marked pages. */
  swapUsedKb: number;
  /** The lender's capture of the cluster link while they went out. */
  capture: { frames: number; bytes: number; marker: number };
  /** The lender's tmpfs file behind the borrower's namespace, while they were there. */
  file: { bytes: number; marker: number };
}

const numbers = (text: string, re: RegExp, what: string) => {
  const m = re.exec(text);
  if (!m) throw new Error(`no ${re} in the ${what}:\n${text}`);
  return m.slice(1).map(Number);
};

async function pollGuest(lab: TestLab, node: string, script: string, pattern: RegExp, timeoutMs: number) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const text = await onGuest(lab.state, node, script, labLimit(60_000));
    if (pattern.test(text)) return text;
    if (Date.now() > end) throw new Error(`${node}: no ${pattern} after ${timeoutMs / 1000}s:\n${text}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/**
 * A workload on the borrower writes pages carrying `markerHex` beyond its memory limit (so they
 * go to remote swap) while the lender captures its cluster interface; then, with the pages still
 * remote, the lender's capture and its tmpfs file are searched for the marker's bytes.
 */
export async function markerSeenByLender(
  lab: TestLab,
  o: { borrower: string; lender: string; lenderAddress: string; file: string; markerHex: string },
): Promise<MarkerSeen> {
  const out = '/root/sniff.out';
  await onGuest(
    lab.state,
    o.lender,
    `cat > /root/confidentiality-probe.py && rm -f ${out} && systemctl reset-failed ramster-sniff 2>/dev/null; true`,
    labLimit(30_000),
    CONFIDENTIALITY_PROBE,
  );
  await onGuest(
    lab.state,
    o.lender,
    `systemd-run --unit=ramster-sniff --collect python3 /root/confidentiality-probe.py sniff ${o.lenderAddress} ${hexOnly(o.markerHex)} ${out}`,
  );
  await pollGuest(lab, o.lender, `cat ${out} 2>/dev/null; true`, /^capturing/m, labLimit(120_000));
  const w = await startWorkload(lab, o.borrower, {
    // 64 MiB was too tight: the cgroup's OOM killer ended a 160 MiB run on a loaded machine
    mib: 200,
    holdS: 1800,
    memoryMaxMb: 128,
    unit: 'ramster-marker',
    markerHex: o.markerHex,
  });
  try {
    const [writtenS] = numbers(
      await waitWorkload(lab, o.borrower, w, /^written/m, labLimit(900_000)),
      /^written ([\d.]+)/m,
      'workload output',
    );
    const swapUsedKb = Number(
      await onGuest(lab.state, o.borrower, "awk 'NR > 1 { s += $4 } END { print s + 0 }' /proc/swaps"),
    );
    await onGuest(lab.state, o.lender, 'systemctl stop ramster-sniff; true');
    const sniffed = await pollGuest(lab, o.lender, `cat ${out}`, /^frames /m, labLimit(120_000));
    const [frames, bytes, marker] = numbers(sniffed, /^frames (\d+) bytes (\d+) marker (\d+)/m, 'capture');
    const scanned = await onGuest(
      lab.state,
      o.lender,
      `python3 /root/confidentiality-probe.py file ${o.file} ${o.markerHex}`,
      labLimit(600_000),
    );
    const [fileBytes, fileMarker] = numbers(scanned, /^bytes (\d+) marker (\d+)/m, 'file scan');
    return { writtenS, swapUsedKb, capture: { frames, bytes, marker }, file: { bytes: fileBytes, marker: fileMarker } };
  } finally {
    await onGuest(lab.state, o.borrower, `systemctl stop ${w.unit}; true`).catch(() => undefined);
    await onGuest(lab.state, o.lender, 'systemctl stop ramster-sniff 2>/dev/null; true').catch(() => undefined);
  }
}

/** Applies `inventory` again and expects exit 0 with no step changed on any host. */
export async function expectApplyChangesNothing(inventory: string, limitMs: number): Promise<void> {
  const again = await cliJson(['apply', '-i', inventory], limitMs);
  expect(again.code, explain(again)).toBe(0);
  for (const h of again.result.hosts)
    expect(
      changedSteps(h).map((s) => s.step),
      h.host,
    ).toEqual([]);
}

/** The Debian releases the modern lab suites run on: `RAMSTER_MODERN_DISTROS` (comma-separated),
 *  else the suite's own default. */
export function modernDistros(fallback: string): ('trixie' | 'bookworm')[] {
  return (process.env.RAMSTER_MODERN_DISTROS ?? fallback).split(',') as ('trixie' | 'bookworm')[];
}
