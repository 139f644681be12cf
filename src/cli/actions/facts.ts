import pLimit from 'p-limit';
import { openTransport } from '../../engine/connect.ts';
import { EXIT } from '../../engine/result.ts';
import { limitedHosts } from '../../engine/run.ts';
import { loadInventory } from '../../inventory/load.ts';
import { gatherFacts } from '../../transport/facts.ts';
import type { HostFlags } from '../flags.ts';

export async function printFacts(o: HostFlags, setCode: (c: number) => void): Promise<void> {
  const inv = await loadInventory(o.inventory);
  const limit = pLimit(o.forks);
  const out: Record<string, unknown> = {};
  await Promise.all(
    limitedHosts(inv, o.limit).map((name) =>
      limit(async () => {
        try {
          const t = await openTransport(inv.hosts.get(name)!, {
            knownHostsFile: o.knownHosts,
            acceptNewHostKeys: o.acceptNewHostKeys,
            connectTimeoutMs: o.connectTimeout * 1000,
          });
          try {
            out[name] = await gatherFacts(t);
          } finally {
            await t.close();
          }
        } catch (e) {
          out[name] = { unreachable: e instanceof Error ? e.message : String(e) };
          setCode(EXIT.HOST_UNREACHABLE);
        }
      }),
    ),
  );
  if (o.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  else
    for (const [h, f] of Object.entries(out)) {
      process.stdout.write(`${h}:\n`);
      for (const [k, v] of Object.entries(f as object)) process.stdout.write(`  ${k}: ${v}\n`);
    }
}
