import { removePath, writeFileAtomic } from '../transport/fileops.ts';
import type { Transport } from '../transport/types.ts';

/** Handler notifications not yet run, kept ON THE HOST so a run that dies before its
 *  handlers fire them on the next run. Shape: { "<play name>": ["handler", ...] }. */
export const PENDING_PATH = '/var/lib/ramster-provision/pending-handlers.json';

export type Pending = Record<string, string[]>;

export async function writePending(t: Transport, p: Pending): Promise<void> {
  const clean = Object.fromEntries(Object.entries(p).filter(([, v]) => v.length));
  if (Object.keys(clean).length === 0) await removePath(t, PENDING_PATH);
  else await writeFileAtomic(t, PENDING_PATH, `${JSON.stringify(clean, null, 1)}\n`, { mode: '0600' });
}

/** The pending-handlers file cannot be read: it may hold a pending cluster reboot, so the
 *  host fails instead of dropping it. `aside`: where an apply moved it. */
export class PendingCorruptError extends Error {
  constructor(
    problem: string,
    readonly aside?: string,
  ) {
    super(
      `${PENDING_PATH} on the host is corrupt (${problem}). It records handlers (a reboot among them) that an earlier run notified but did not run yet. ` +
        (aside
          ? `It was moved aside to ${aside}: read it, run what it names by hand (or reboot the host), then apply again.`
          : `Read it on the host, run what it names by hand (or reboot the host), then remove it; an apply moves it aside and fails the host the same way.`),
    );
    this.name = 'PendingCorruptError';
  }
}

/** The file's text ('' when there is none): `{ "<play>": ["<handler>", ...] }`. */
export function parsePending(text: string): { pending: Pending } | { problem: string } {
  if (text.trim() === '') return { pending: {} };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { problem: `not JSON: ${(e as Error).message}` };
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { problem: 'not a JSON object of play names' };
  for (const [play, list] of Object.entries(v)) {
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string'))
      return { problem: `the entry of play ${JSON.stringify(play)} is not a list of handler names` };
  }
  return { pending: v as Pending };
}
