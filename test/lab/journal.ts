/** The previous boot's journal of a guest, and the shutdown events the lab suites compare. */
import type { LabState } from '../../src/lab/index.ts';
import { onGuest } from './helpers.ts';
import { labLimit } from '../helpers/machine.ts';

export interface JournalEntry {
  /** Position in the journal of that boot (entries are in journal order). */
  index: number;
  usec: number;
  message: string;
}

/** `journalctl -b -1` (the boot before the current one), one entry per line. */
export async function previousBootJournal(state: LabState, node: string): Promise<JournalEntry[]> {
  const out = await onGuest(
    state,
    node,
    'journalctl -b -1 --no-pager -o json --output-fields=MESSAGE',
    labLimit(120_000),
  );
  return out
    .split('\n')
    .filter((l) => l.trim())
    .map((l, index) => {
      const e = JSON.parse(l) as { MESSAGE?: unknown; __REALTIME_TIMESTAMP: string };
      // Binary-safe journal fields come as byte arrays.
      const message = Array.isArray(e.MESSAGE)
        ? Buffer.from(e.MESSAGE as number[]).toString('utf8')
        : String(e.MESSAGE ?? '');
      return { index, usec: Number(e.__REALTIME_TIMESTAMP), message };
    });
}

export interface ShutdownEvents {
  /** logind's "System is rebooting." (start of the shutdown). */
  shutdownStart?: JournalEntry;
  /** The swap file's swap unit deactivated: by systemd itself, or noticed after a `swapoff -a`. */
  swapOff?: JournalEntry;
  /** The first sign of the network going down: network.target stopped or networkd stopping. */
  networkDown?: JournalEntry;
}

export const SHUTDOWN = /System is (rebooting|powering down)|Stopped target multi-user\.target/;
export const NETWORK_DOWN =
  /^(Stopped target network\.target|Stopping systemd-networkd\.service|Stopping networking\.service)/;

export function shutdownEvents(entries: JournalEntry[], swapFile: string): ShutdownEvents {
  const unit = `${swapFile.replace(/^\//, '').replace(/\//g, '-')}.swap`;
  const swapDone = (m: string) =>
    m === `${unit}: Deactivated successfully.` || m.startsWith(`Deactivated swap ${unit}`);
  const start = entries.find((e) => SHUTDOWN.test(e.message));
  const after = entries.filter((e) => start && e.index >= start.index);
  return {
    shutdownStart: start,
    swapOff: after.find((e) => swapDone(e.message)),
    networkDown: after.find((e) => NETWORK_DOWN.test(e.message)),
  };
}

export function describeEvents(ev: ShutdownEvents): string {
  const show = (e?: JournalEntry) => (e ? `#${e.index} ${e.message}` : 'none');
  return `shutdown start: ${show(ev.shutdownStart)}; swap off: ${show(ev.swapOff)}; network down: ${show(ev.networkDown)}`;
}

/** An active swap file on the guest (not in fstab: only this boot has it). */
export async function activateSwapFile(state: LabState, node: string, path = '/swapfile', mb = 64): Promise<void> {
  await onGuest(
    state,
    node,
    `set -e
     swapon --show=NAME --noheadings | grep -qx ${path} && exit 0
     [ -f ${path} ] || { fallocate -l ${mb}M ${path}; chmod 600 ${path}; mkswap ${path} >/dev/null; }
     swapon ${path}
     swapon --show=NAME --noheadings | grep -qx ${path}`,
  );
}

/** Makes journald keep its files on disk (the image already does; a guest that does not gets
 *  /var/log/journal and a flush), so the next boot can read this boot's shutdown. */
export async function ensurePersistentJournal(state: LabState, node: string): Promise<void> {
  await onGuest(
    state,
    node,
    `set -e
     if [ ! -d /var/log/journal ]; then
       mkdir -p /var/log/journal
       systemd-tmpfiles --create --prefix /var/log/journal
       systemctl restart systemd-journald
     fi
     journalctl --flush
     ls /var/log/journal/$(cat /etc/machine-id)/system.journal >/dev/null`,
  );
}
