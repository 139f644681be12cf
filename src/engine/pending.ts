import { removePath, writeFileAtomic } from '../transport/fileops.ts';
import type { Transport } from '../transport/types.ts';

/** Handler notifications not yet run, kept ON THE HOST so a run that dies before its
 *  handlers fire them on the next run. Shape: { "<play name>": ["handler", ...] }. */
export const PENDING_PATH = '/var/lib/ramster-provision/pending-handlers.json';

export type Pending = Record<string, string[]>;

export async function writePending(t: Transport, p: Pending): Promise<void> {
  const clean = Object.fromEntries(Object.entries(p).filter(([, v]) => v.length));
  if (Object.keys(clean).length === 0) await removePath(t, PENDING_PATH);
  else await writeFileAtomic(t, PENDING_PATH, JSON.stringify(clean, null, 1) + '\n', { mode: '0600' });
}
