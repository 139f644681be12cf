import { readExitCode, readHosts } from '../../engine/readhosts.ts';
import { loadInventory } from '../../inventory/load.ts';
import { gatherFacts } from '../../transport/facts.ts';
import { readOptions, type HostFlags } from '../flags.ts';

export async function printFacts(o: HostFlags, setCode: (c: number) => void): Promise<void> {
  const inv = await loadInventory(o.inventory);
  const reads = await readHosts(inv, readOptions(o), (t) => gatherFacts(t));
  const out: Record<string, unknown> = {};
  for (const r of reads)
    out[r.host] = 'value' in r ? r.value : 'unreachable' in r ? { unreachable: r.unreachable } : { failed: r.failed };
  setCode(
    readExitCode(
      reads.some((r) => 'failed' in r),
      reads.some((r) => 'unreachable' in r),
    ),
  );
  if (o.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  else
    for (const [h, f] of Object.entries(out)) {
      process.stdout.write(`${h}:\n`);
      for (const [k, v] of Object.entries(f as object)) process.stdout.write(`  ${k}: ${v}\n`);
    }
}
