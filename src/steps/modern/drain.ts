/**
 * Lender maintenance (`ramster-provision drain`, playbooks/drain.yaml): on each borrower of a
 * drained lender, its pages come home (`ramster-modern drain <lender>`: the room check, swapoff
 * with progress, or a mirror leg failed and removed; then the disconnect); after a cluster
 * barrier the lender stops lending to the borrowers that came home (`ramster-modern unlend`).
 */
import { bodyLines, framed } from '../../frame.ts';
import {
  type DrainCheck,
  drainRefusal,
  drainSummary,
  parseDrainCheck,
  swapoffProgress,
  swapsComingHome,
} from '../../modern/drain.ts';
import { DEFAULT_RESERVE_MB } from '../../modern/model.ts';
import type { Borrow, ModernPlan } from '../../modern/plan.ts';
import { MODERN_PROBE_SCRIPT, parseModernProbe } from '../../modern/probe.ts';
import { commandFailed, shq } from '../../shell.ts';
import { probeFrames, readOnly, run } from '../../transport/fileops.ts';
import { isImageTarget } from '../../transport/types.ts';
import { type Change, defineStep, noChange, type StepContext } from '../types.ts';
import { hostModernPlan } from './plan.ts';

const SCRIPT = '/usr/sbin/ramster-modern';
/** How often the swapoff's progress is read while it runs. */
const PROGRESS_EVERY_MS = 10_000;

export type ReleaseArgs = { lenders: string[]; reserve_mb?: number };
export type UnlendArgs = { lenders: string[] };

const lendersSchema = {
  type: 'array',
  items: { type: 'string', minLength: 1 },
  description: 'inventory names of the lenders being drained',
} as const;

/** The cluster share key saying `borrower` brought its pages home from `lender` in this run. */
const releasedKey = (lender: string, borrower: string) => `drain/released/${lender}/${borrower}`;

function refuseImage(ctx: StepContext): Change | undefined {
  if (!isImageTarget(ctx.t)) return undefined;
  return {
    ...noChange('drain: nothing to drain'),
    skipped: 'an image has no running kernel: nothing is lent or borrowed',
  };
}

/** `ramster-modern drain-check <lender>`: read-only; an old ramster-modern has no such command. */
async function drainCheck(ctx: StepContext, b: Borrow): Promise<DrainCheck> {
  const f = framed(`rp_frame drain-check\n${SCRIPT} drain-check ${b.lender}`);
  const r = await ctx.t.exec(f.script, readOnly());
  if (r.code === 2 || r.code === 127)
    throw new Error(
      `${SCRIPT} on ${ctx.host} has no drain-check (exit ${r.code}): install this version's with ramster-provision apply -i <inventory> --limit ${ctx.host} --tags tools, then drain again`,
    );
  if (r.code !== 0) throw new Error(commandFailed(`${SCRIPT} drain-check ${b.lender}`, r, { on: ctx.host, lines: 5 }));
  return parseDrainCheck(f.read(r.stdout).body('drain-check'));
}

/** The pages still out on the devices being swapped off, in kB (read-only). */
async function pagesOut(ctx: StepContext, devices: string[]): Promise<number | undefined> {
  const list = devices.map(shq).join(' ');
  const f = framed(
    `rp_frame used\nfor d in ${list}; do awk -v d="$d" 'NR > 1 && $1 == d { print $4 }' /proc/swaps; done`,
  );
  const r = await ctx.t.exec(f.script, readOnly({ timeoutMs: 60_000 }));
  if (r.code !== 0) return undefined;
  return bodyLines(f.read(r.stdout).body('used')).reduce((s, l) => s + Number(l), 0);
}

/** Runs the drain on the host, reporting the swapoff's progress (pages still out) meanwhile. */
async function runDrain(ctx: StepContext, b: Borrow, c: DrainCheck, reserveMb: number): Promise<string> {
  const home = swapsComingHome(c);
  const totalKb = home.reduce((s, d) => s + d.usedKb, 0);
  const started = Date.now();
  let done = false;
  const work = run(
    ctx.t,
    `${SCRIPT} drain ${b.lender} ${reserveMb * 1024}`,
    `${SCRIPT} drain ${b.lender}`,
    undefined,
    ctx.timeoutMs,
  ).finally(() => (done = true));
  if (home.length && totalKb > 0) {
    ctx.log(swapoffProgress(home.map((d) => d.device).join('+'), totalKb, totalKb, 0));
    while (!done) {
      await Promise.race([work.catch(() => undefined), new Promise((r) => setTimeout(r, PROGRESS_EVERY_MS))]);
      if (done) break;
      const out = await pagesOut(
        ctx,
        home.map((d) => d.device),
      ).catch(() => undefined);
      const s = Math.round((Date.now() - started) / 1000);
      if (out !== undefined) ctx.log(swapoffProgress(home.map((d) => d.device).join('+'), totalKb, out, s));
    }
  }
  return work;
}

/** After the drain: nothing of that lender's is connected or swapped on any more. */
function leftOver(c: DrainCheck): string[] {
  return [
    ...c.controllers.map((k) => `${k.name} still connected (${k.state})`),
    ...c.swaps.map((s) => `${s.device} still swapped on (${Math.floor(s.usedKb / 1024)} MiB)`),
    ...c.mirrors.map((m) => `/dev/${m.leg} still a leg of /dev/${m.md}`),
  ];
}

/** A borrow of a drained lender and what drain-check read for it. */
type Checked = { b: Borrow; c: DrainCheck };

/** drain-check for each drained lender, and the first reason to refuse (none: all clear). */
async function checkAll(
  ctx: StepContext,
  borrows: Borrow[],
  reserveMb: number,
): Promise<{ checked: Checked[]; refusal?: string }> {
  const checked: Checked[] = [];
  try {
    for (const b of borrows) {
      const c = await drainCheck(ctx, b);
      const refusal = drainRefusal(c, ctx.host, b.lenderHost, reserveMb);
      if (refusal) return { checked, refusal };
      checked.push({ b, c });
    }
  } catch (e) {
    return { checked, refusal: e instanceof Error ? e.message : String(e) };
  }
  return { checked };
}

/** Every borrower of the run says whether it may drain (a cluster exchange): one refusal and no
 *  borrower changes anything, so a drain is all or nothing. Throws this host's reason, or the
 *  others'. */
async function allOrNothing(ctx: StepContext, refusal: string | undefined): Promise<void> {
  const verdicts = (await ctx.cluster?.exchange<string>('drain-refusals', refusal ?? '')) ?? new Map<string, string>();
  if (refusal) throw new Error(refusal);
  const others = [...verdicts].filter(([h, v]) => h !== ctx.host && v);
  if (others.length)
    throw new Error(
      `not drained: ${others.map(([h]) => h).join(', ')} refused (see its step), and a drain is all or nothing: nothing was changed on ${ctx.host}`,
    );
}

async function releaseOne(ctx: StepContext, { b, c }: Checked, reserveMb: number): Promise<Change> {
  if (!c.controllers.length && !c.swaps.length && !c.mirrors.length) return noChange(drainSummary(c, b.lenderHost));
  const change: Change = { action: 'delete', summary: drainSummary(c, b.lenderHost) };
  if (!ctx.apply) return change;
  const out = await runDrain(ctx, b, c, reserveMb);
  const left = leftOver(await drainCheck(ctx, b));
  if (left.length) throw new Error(`${SCRIPT} drain ${b.lender} ran on ${ctx.host}, but ${left.join(', ')}`);
  // what was done, as the script says it: "swap off /dev/nvme0n1: 400 MiB home in 12 s", "mirror ..."
  const done = out
    .split('\n')
    .map((l) => l.replace(/^ramster-modern: /, '').trim())
    .filter((l) => /^(swap off |mirror )/.test(l));
  return { ...change, summary: `${change.summary}${done.length ? ` — ${done.join('; ')}` : ''}` };
}

/** The merged change of several lenders' drains (one line each). */
function merged(changes: Change[]): Change {
  const changed = changes.filter((c) => c.action !== 'none');
  if (!changed.length) return noChange(changes.map((c) => c.summary).join('; '));
  return { action: 'delete', summary: changed.map((c) => c.summary).join('; ') };
}

export const modernReleaseStep = defineStep<ReleaseArgs>()({
  name: 'modern_release',
  description:
    'Borrowing side of `ramster-provision drain`: for each drained lender this node borrows from, `ramster-modern drain-check` reads what is on it; refused (nothing changed) when the pages do not fit (MemAvailable + free swap elsewhere - reserve_mb) or a mirror has no other good leg; applying runs `ramster-modern drain <lender>` (swapoff with progress, or the RAID1 leg failed and removed; then the disconnect) and reads back.',
  argsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['lenders'],
    properties: {
      lenders: lendersSchema,
      reserve_mb: { type: 'integer', minimum: 0, description: 'MiB of memory kept free on the borrower (default 64)' },
    },
  },
  async checkApply(args, ctx) {
    const image = refuseImage(ctx);
    if (image) return image;
    const plan = hostModernPlan(ctx);
    const reserveMb = args.reserve_mb ?? DEFAULT_RESERVE_MB;
    const borrows = plan.borrows.filter((b) => args.lenders.includes(b.lenderHost));
    const { checked, refusal } = await checkAll(ctx, borrows, reserveMb);
    await allOrNothing(ctx, refusal); // every host of the play comes here, borrower or not
    if (!borrows.length) return noChange(`borrows nothing from ${args.lenders.join(', ')}`);
    const changes: Change[] = [];
    for (const one of checked) {
      changes.push(await releaseOne(ctx, one, reserveMb));
      ctx.cluster?.share?.set(releasedKey(one.b.lenderHost, ctx.host), true);
    }
    return merged(changes);
  },
});

/** Our exports on this lender for the borrowers that came home, refusing the others. */
function unlendTargets(ctx: StepContext, plan: ModernPlan): ModernPlan['lends'] {
  const notHome = plan.lends.filter((l) => !ctx.cluster?.share?.get(releasedKey(ctx.host, l.borrowerHost)));
  if (notHome.length)
    throw new Error(
      `${notHome.map((l) => l.borrowerHost).join(', ')} did not bring their pages home from ${ctx.host} in this run (failed, unreachable or left out): ${ctx.host} still lends to them, so it must not reboot; fix what their step says, then drain again`,
    );
  return plan.lends;
}

export const modernUnlendStep = defineStep<UnlendArgs>()({
  name: 'modern_unlend',
  description:
    'Lending side of `ramster-provision drain` (after a `barrier: cluster`, on the drained lenders only): once every borrower of this node brought its pages home in this run, its exports go and the RAM behind them is freed (`ramster-modern unlend <borrower>`); refused while any borrower did not. The lender may then reboot; `apply` lends again.',
  argsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['lenders'],
    properties: { lenders: lendersSchema },
  },
  async checkApply(args, ctx) {
    const image = refuseImage(ctx);
    if (image) return image;
    if (!args.lenders.includes(ctx.host)) return noChange('not a drained lender');
    const lends = unlendTargets(ctx, hostModernPlan(ctx));
    const exported = async () =>
      parseModernProbe(
        await probeFrames(ctx.t, MODERN_PROBE_SCRIPT, 'read the modern backend state', ctx.timeoutMs),
      ).subsystems.map((s) => s.name);
    const before = await exported();
    const targets = lends.filter((l) => before.includes(l.subsystem));
    if (!targets.length) return noChange(`lends nothing now: ${ctx.host} can reboot`);
    const change: Change = {
      action: 'delete',
      summary: `stop lending to ${targets.map((l) => l.borrowerHost).join(', ')} (their pages are home; apply lends again)`,
    };
    if (!ctx.apply) return change;
    for (const l of targets)
      await run(ctx.t, `${SCRIPT} unlend ${l.borrower}`, `${SCRIPT} unlend ${l.borrower}`, undefined, ctx.timeoutMs);
    const still = (await exported()).filter((s) => targets.some((l) => l.subsystem === s));
    if (still.length) throw new Error(`${SCRIPT} unlend ran on ${ctx.host}, but ${still.join(', ')} is still exported`);
    return change;
  },
});
