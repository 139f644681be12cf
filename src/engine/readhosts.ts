import pLimit from 'p-limit';
import type { Inventory } from '../inventory/types.ts';
import { UnreachableError, type Transport } from '../transport/types.ts';
import { openTransport, type ConnectOptions } from './connect.ts';
import { HostTransport } from './hosttransport.ts';
import { EXIT } from './result.ts';
import { limitedHosts } from './run.ts';

/** What a read-only command (verify, status, doctor, facts) asks of the engine. */
export interface ReadOptions {
  limit?: string;
  forks: number;
  connect: ConnectOptions;
  /** Default limit of each remote command; a read that hangs fails its host. */
  commandTimeoutMs?: number;
  /** Only the selected hosts that pass (e.g. cluster members); none left is the caller's error. */
  only?: (host: string) => boolean;
}

/** One host's answer: the value read, or why there is none (unreachable, or the read failed). */
export type HostRead<T> =
  | { host: string; value: T }
  | { host: string; unreachable: string }
  | { host: string; failed: string };

/**
 * The read-only play: reads every selected host with `read` (one transport each, `--forks` at
 * a time, no host lock: nothing is changed) and returns the answers in inventory order. A host
 * that cannot be reached is `unreachable`; one whose read throws is `failed`.
 */
export async function readHosts<T>(
  inv: Inventory,
  o: ReadOptions,
  read: (t: Transport, host: string) => Promise<T>,
): Promise<HostRead<T>[]> {
  const hosts = limitedHosts(inv, o.limit).filter((h) => o.only?.(h) ?? true);
  const limit = pLimit(o.forks);
  return Promise.all(hosts.map((host) => limit(() => readOne(inv, o, host, read))));
}

async function readOne<T>(
  inv: Inventory,
  o: ReadOptions,
  host: string,
  read: (t: Transport, host: string) => Promise<T>,
): Promise<HostRead<T>> {
  let t: Transport;
  try {
    t = await openTransport(inv.hosts.get(host)!, o.connect);
  } catch (e) {
    return { host, unreachable: message(e) };
  }
  try {
    return { host, value: await read(new HostTransport(t).withTimeout(o.commandTimeoutMs), host) };
  } catch (e) {
    return e instanceof UnreachableError ? { host, unreachable: message(e) } : { host, failed: message(e) };
  } finally {
    await t.close().catch(() => undefined);
  }
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The exit code of a read-only command: 3 when a host failed (a check or the read), 4 when
 *  one was unreachable, 5 for both, as `apply` does. */
export function readExitCode(failed: boolean, unreachable: boolean): number {
  if (failed && unreachable) return EXIT.FAILED_AND_UNREACHABLE;
  if (failed) return EXIT.HOST_FAILED;
  if (unreachable) return EXIT.HOST_UNREACHABLE;
  return EXIT.OK;
}
