import { fileURLToPath } from 'node:url';
import { limitedHosts } from '../../engine/run.ts';
import { loadInventory } from '../../inventory/load.ts';
import { drainHosts } from '../../modern/drain.ts';
import { execute, type RunFlags } from './run.ts';

export const DRAIN_PLAYBOOK = fileURLToPath(new URL('../../../playbooks/drain.yaml', import.meta.url));

export interface DrainFlags extends RunFlags {
  check: boolean;
  reserveMb: number;
}

/** `drain`: the lenders named by --limit and their borrowers run playbooks/drain.yaml. */
export async function drainLenders(o: DrainFlags): Promise<number> {
  if (!o.limit)
    throw new Error(
      'drain needs --limit naming the lenders to drain (e.g. --limit node2): it never drains a whole inventory by default',
    );
  const inv = await loadInventory(o.inventory);
  const { lenders, hosts } = drainHosts(inv.clusters, limitedHosts(inv, o.limit));
  return execute(DRAIN_PLAYBOOK, { ...o, limit: hosts.join(',') }, !o.check, {
    ramster_drain_lenders: lenders,
    ramster_drain_reserve_mb: o.reserveMb,
  });
}
