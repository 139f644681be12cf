/**
 * `npm run bench:load`: time and peak memory of loading generated inventories of 0.1, 1 and
 * 5 MB, each in a fresh Node process (so peak RSS is that load's alone).
 *
 *   npm run bench:load                       # 0.1, 1 and 5 MB, both shapes
 *   npm run bench:load -- --mb 5 --runs 3    # median of 3 runs
 *
 * Loading should grow linearly with the file: 5 MB under 2 s and 200 MB.
 *
 * A busy machine stretches every time, so each row also gives the CPU time of js-yaml alone
 * parsing the same file (a fresh process too) and the loader's CPU time as a multiple of it:
 * that ratio hardly depends on the load.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  const { InputError } = await import('../../src/input/diagnostics.ts');
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
  const m: Measure = {
    loadMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    baseRssMb,
    hosts,
    diagnostics,
  };
  process.stdout.write(JSON.stringify(m));
}

/** CPU time of js-yaml alone turning the file into values (no checks, no positions). */
async function parseOnlyChild(file: string): Promise<void> {
  const yaml = (await import('js-yaml')).default;
  const text = readFileSync(file, 'utf8');
  const cpuStart = process.cpuUsage();
  yaml.load(text, { schema: yaml.CORE_SCHEMA });
  const cpu = process.cpuUsage(cpuStart);
  process.stdout.write(JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000 }));
}

function runChild(mode: '--child' | '--parse-only', file: string): string {
  return execFileSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, mode, file], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
}

const loadAverage = () => loadavg()[0].toFixed(1);

function main(): void {
  const { values } = parseArgs({
    options: {
      mb: { type: 'string', default: '0.1,1,5' },
      runs: { type: 'string', default: '1' },
      child: { type: 'string' },
      'parse-only': { type: 'string' },
    },
  });
  if (values.child) return void child(values.child);
  if (values['parse-only']) return void parseOnlyChild(values['parse-only']);
  const sizes = values.mb!.split(',').map(Number);
  const runs = Number(values.runs);
  const dir = mkdtempSync(join(tmpdir(), 'bench-load-'));
  console.log(
    `${cpus().length} CPUs, load average ${loadAverage()}; median of ${runs} run(s); each load in a fresh process`,
  );
  console.log(
    '| shape | MB | hosts | diagnostics | load s (wall) | load s (CPU) | peak RSS MB | RSS before load MB | js-yaml alone s (CPU) | load ÷ js-yaml (CPU) |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  try {
    for (const shape of ['valid', 'one-big-cluster'] as InventoryShape[]) {
      for (const mb of sizes) {
        const text = generateInventory(mb * 1_000_000, shape);
        const file = join(dir, `${shape}-${mb}.yaml`);
        writeFileSync(file, text);
        const all: Measure[] = [];
        const parses: number[] = [];
        for (let r = 0; r < runs; r++) {
          all.push(JSON.parse(runChild('--child', file)));
          parses.push(JSON.parse(runChild('--parse-only', file)).cpuMs);
        }
        const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
        const of = (f: (m: Measure) => number) => median(all.map(f));
        const m = all[0];
        const parseMs = median(parses);
        console.log(
          `| ${shape} | ${(text.length / 1e6).toFixed(2)} | ${m.hosts || '-'} | ${m.diagnostics} | ${(of((x) => x.loadMs) / 1000).toFixed(2)} | ${(of((x) => x.cpuMs) / 1000).toFixed(2)} | ${of((x) => x.peakRssMb).toFixed(0)} | ${of((x) => x.baseRssMb).toFixed(0)} | ${(parseMs / 1000).toFixed(2)} | ${(of((x) => x.cpuMs) / parseMs).toFixed(1)} |`,
        );
      }
    }
    console.log(`load average at the end ${loadAverage()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
