import type { Facts } from '../transport/facts.ts';
import type { Change } from '../steps/types.ts';
import type { Location } from '../playbook/types.ts';

export type StepStatus = 'ok' | 'changed' | 'failed' | 'skipped';
export type HostStatus = 'ok' | 'changed' | 'failed' | 'unreachable';

export interface StepResult {
  play: string;
  step: string;
  type: string;
  handler: boolean;
  status: StepStatus;
  change?: Change;
  /** Why it failed or was skipped. */
  message?: string;
  loc: Location;
  durationMs: number;
}

export interface Counts {
  ok: number;
  changed: number;
  failed: number;
  skipped: number;
  unreachable: number;
}

export interface HostResult {
  host: string;
  target: string;
  status: HostStatus;
  facts?: Facts;
  steps: StepResult[];
  counts: Counts;
  /** Failure or unreachability reason for the host as a whole. */
  error?: string;
  roundTrips: number;
  durationMs: number;
}

export interface RunResult {
  /** Version of this JSON document's shape (README: "JSON output"). */
  schemaVersion: 1;
  mode: 'plan' | 'apply';
  hosts: HostResult[];
  totals: Counts & { hosts: number };
  durationMs: number;
  interrupted?: boolean;
}

export const emptyCounts = (): Counts => ({ ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0 });

/** Exit codes, documented in `--help` and the README. */
export const EXIT = {
  OK: 0,
  ERROR: 1, // bad input, usage, or (dry run) a host failed/unreachable
  CHANGES_PENDING: 2, // dry run only
  HOST_FAILED: 3, // apply: at least one host failed (none unreachable)
  HOST_UNREACHABLE: 4, // apply: at least one host unreachable (none failed)
  FAILED_AND_UNREACHABLE: 5,
  INTERRUPTED: 130,
} as const;

export function exitCode(r: RunResult): number {
  if (r.interrupted) return EXIT.INTERRUPTED;
  const failed = r.hosts.some((h) => h.status === 'failed');
  const unreachable = r.hosts.some((h) => h.status === 'unreachable');
  if (r.mode === 'plan') {
    if (failed || unreachable) return EXIT.ERROR;
    return r.totals.changed > 0 ? EXIT.CHANGES_PENDING : EXIT.OK;
  }
  if (failed && unreachable) return EXIT.FAILED_AND_UNREACHABLE;
  if (failed) return EXIT.HOST_FAILED;
  if (unreachable) return EXIT.HOST_UNREACHABLE;
  return EXIT.OK;
}
