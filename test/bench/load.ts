/**
 * `npm run bench:load`: time and peak memory of loading generated inventories of 0.1, 1 and
 * 5 MB, each in a fresh Node process (so peak RSS is that load's alone).
 *
 *   npm run bench:load                       # 0.1, 1 and 5 MB, both shapes
 *   npm run bench:load -- --mb 5 --runs 3    # median of 3 runs
 *
 * Loading should grow linearly with the file: 5 MB under 2 s and 200 MB.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateInventory, type InventoryShape } from './gen-inventory.ts';

interface Measure {
  loadMs: number;
  /** CPU time of the load: what a busy machine changes least. */
  cpuMs: number;
  peakRssMb: number;
  baseRssMb: number;
  hosts: number;
  diagnostics: number;
}

async function child(file: string): Promise<void> {
  const { loadInventory } = await import('../../src/inventory/load.ts');
  const { InputError } = await import('../../src/diagnostics.ts');
  const baseRssMb = process.resourceUsage().maxRSS / 1024;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  let hosts = 0;
  let diagnostics = 0;
  try {
    hosts = (await loadInventory(file)).hosts.size;
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    diagnostics = e.diagnostics.length;
  }
  const loadMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  const m: Measure = { loadMs, cpuMs: (cpu.user + cpu.system) / 1000, peakRssMb: process.resourceUsage().maxRSS / 1024, baseRssMb, hosts, diagnostics };
  process.stdout.write(JSON.stringify(m));
}

function main(): void {
  const { values } = parseArgs({ options: { mb: { type: 'string', default: '0.1,1,5' }, runs: { type: 'string', default: '1' }, child: { type: 'string' } } });
  if (values.child) return void child(values.child);
  const sizes = values.mb!.split(',').map(Number);
  const runs = Number(values.runs);
  const dir = mkdtempSync(join(tmpdir(), 'bench-load-'));
  console.log(`${cpus().length} CPUs, load average ${loadavg()[0].toFixed(1)}; median of ${runs} run(s); each load in a fresh process`);
  console.log('| shape | MB | hosts | diagnostics | load s (wall) | load s (CPU) | peak RSS MB | RSS before load MB |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  try {
    for (const shape of ['valid', 'one-big-cluster'] as InventoryShape[]) {
      for (const mb of sizes) {
        const text = generateInventory(mb * 1_000_000, shape);
        const file = join(dir, `${shape}-${mb}.yaml`);
        writeFileSync(file, text);
        const all: Measure[] = [];
        for (let r = 0; r < runs; r++) {
          const out = execFileSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--child', file], { encoding: 'utf8', maxBuffer: 1 << 20 });
          all.push(JSON.parse(out));
        }
        const median = (f: (m: Measure) => number) => all.map(f).sort((a, b) => a - b)[Math.floor(all.length / 2)];
        const m = all[0];
        console.log(`| ${shape} | ${(text.length / 1e6).toFixed(2)} | ${m.hosts || '-'} | ${m.diagnostics} | ${(median((x) => x.loadMs) / 1000).toFixed(2)} | ${(median((x) => x.cpuMs) / 1000).toFixed(2)} | ${median((x) => x.peakRssMb).toFixed(0)} | ${median((x) => x.baseRssMb).toFixed(0)} |`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
