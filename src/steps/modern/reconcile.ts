import { authRefusal } from '../../modern/auth.ts';
import { modulesNeeded, type ModernPlan } from '../../modern/plan.ts';
import { MODERN_PROBE_SCRIPT, parseModernProbe, type ModernProbe } from '../../modern/probe.ts';
import { probeFrames, run } from '../../transport/fileops.ts';
import { isImageTarget } from '../../transport/types.ts';
import { unifiedDiff } from '../textdiff.ts';
import { noChange, type Change, type StepContext } from '../types.ts';
import { borrowerKeyFiles, lenderKeyFiles } from './keys.ts';
import type { KeyDigests } from '../../modern/state.ts';

export interface LiveSide {
  side: 'lend' | 'borrow';
  /** e.g. "exports" — used in summaries and errors. */
  what: string;
  /** A name for the diff header, e.g. "nvmet (lend)". */
  diffName: string;
  desired(plan: ModernPlan): string[];
  actual(p: ModernProbe, plan: ModernPlan, keys?: KeyDigests): string[];
  /** The `ramster-modern` command that converges this side (the same one the boot unit runs). */
  command: string;
}

const text = (lines: string[]) => (lines.length ? `${lines.join('\n')}\n` : '');

/**
 * Reads the live state in one probe, diffs it against the plan, and when applying runs the
 * same `ramster-modern` command the boot unit runs, then reads back: the step fails with the
 * remaining diff when the kernel did not end up where the plan says.
 */
export async function reconcileLive(ctx: StepContext, plan: ModernPlan, side: LiveSide): Promise<Change> {
  if (isImageTarget(ctx.t))
    return {
      ...noChange(`${side.what}: set up at first boot`),
      skipped: 'an image has no running kernel: the enabled unit sets this up when the image boots',
    };
  const readProbe = async () =>
    parseModernProbe(await probeFrames(ctx.t, MODERN_PROBE_SCRIPT, 'read the modern backend state', ctx.timeoutMs));
  const first = await readProbe();
  const missing = modulesNeeded(plan, side.side).filter((m) => !first.available.includes(m));
  if (missing.length) throw new Error(missingModules(first.kernel, ctx.host, missing));
  const refusal = authRefusal(plan, first, ctx.host, side.side);
  if (refusal) throw new Error(refusal);
  // the pair's key files (auth: dhchap) before the live state: the lender's keys are made or
  // kept here and shared; the borrower's copied from them
  const keys = side.side === 'lend' ? await lenderKeyFiles(ctx, plan) : await borrowerKeyFiles(ctx, plan);
  const want = [...keys.desired, ...side.desired(plan)];
  const read = async () => [...keys.desired, ...side.actual(await readProbe(), plan, keys.digests)];
  const have = [...keys.actual, ...side.actual(first, plan, keys.digests)];
  const diff = unifiedDiff(side.diffName, text(have), text(want));
  if (!diff)
    return noChange(
      want.length ? `${side.what}: ${want.length} facts as planned` : `${side.what}: nothing to do on this node`,
    );
  const action = !want.length ? 'delete' : have.length ? 'update' : 'create';
  const summary = `${side.what}: ${action} (${side.command})`;
  if (!ctx.apply) return { action, summary, diff };
  await keys.write();
  ctx.log(`${side.command}`);
  await run(ctx.t, `/usr/sbin/${side.command}`, side.command, undefined, ctx.timeoutMs);
  const after = await read();
  const left = unifiedDiff(side.diffName, text(after), text(want));
  if (left)
    throw new Error(
      `${side.command} ran, but the ${side.what} still differ from the plan (- found, + planned):\n${left}`,
    );
  return { action, summary, diff };
}

/** The refusal when the kernel lacks a module the plan needs, naming what each is for. */
function missingModules(kernel: string, host: string, missing: string[]): string {
  const why = [
    'the modern backend needs NVMe over TCP (CONFIG_NVME_TCP, CONFIG_NVME_TARGET_TCP)',
    ...(missing.includes('raid1') ? ['md RAID1 (CONFIG_MD_RAID1) for replicas: 2'] : []),
    ...(missing.includes('dm-crypt')
      ? ['dm-crypt (CONFIG_DM_CRYPT) for encryption: dm-crypt, or `encryption: none`']
      : []),
  ];
  return `kernel ${kernel || '(unknown)'} on ${host} has no ${missing.join(', ')} module: ${why.join(' and ')}; install the distribution kernel's modules package (Debian: linux-image-amd64) or build them`;
}
