import type { HostResult, RunResult, StepResult } from '../engine/result.ts';
import { colorDiff, type Style } from './style.ts';

export const fmtMs = (ms: number) => (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);

export function stepLine(host: string, r: StepResult, st: Style): string {
  const mark = {
    ok: st.green('ok     '),
    changed: st.yellow('changed'),
    failed: st.red('failed '),
    skipped: st.dim('skipped'),
  }[r.status];
  const what = r.status === 'failed' ? st.red(r.message ?? '') : (r.change?.summary ?? r.message ?? '');
  const cond = r.change?.conditional ? st.dim(` [conditional: ${r.change.conditional}]`) : '';
  return `${host}  ${mark}  ${r.handler ? 'handler ' : ''}${r.step}${what ? `: ${what}` : ''}${cond}`;
}

/** The changes of a run with their diffs, grouped by host (the dry-run "plan"). */
export function formatChanges(res: RunResult, st: Style, withDiff: boolean): string {
  const out: string[] = [];
  for (const h of res.hosts) {
    const changed = h.steps.filter((s) => s.status === 'changed' || s.status === 'failed');
    if (!changed.length) continue;
    out.push(st.bold(`== ${h.host} (${h.target})`));
    for (const s of changed) {
      const verb =
        s.status === 'failed'
          ? st.red('! failed')
          : res.mode === 'plan'
            ? st.yellow(`~ ${s.change?.action}`)
            : st.yellow(`* ${s.change?.action}`);
      out.push(`${verb} ${s.step}: ${s.status === 'failed' ? s.message?.replace(/\n/g, '\n  ') : s.change?.summary}`);
      if (s.change?.conditional) out.push(st.dim(`  conditional: ${s.change.conditional}`));
      if (s.change?.rebootRequired) out.push(st.dim('  takes effect after a reboot'));
      if (withDiff && s.change?.sensitive) out.push(st.dim('  (diff hidden: sensitive)'));
      else if (withDiff && s.change?.diff) out.push(colorDiff(s.change.diff.trimEnd(), st).replace(/^/gm, '  '));
    }
  }
  return out.join('\n');
}

export function recapLine(h: HostResult, st: Style): string {
  const c = h.counts;
  const status = { ok: st.green, changed: st.yellow, failed: st.red, unreachable: st.red }[h.status](
    h.status.padEnd(11),
  );
  const why = h.error ? `\n    ${st.red(h.error.replace(/\n/g, '\n    '))}` : '';
  return `${h.host.padEnd(16)} ${status} ok=${c.ok} changed=${c.changed} failed=${c.failed} skipped=${c.skipped} unreachable=${c.unreachable}  ${st.dim(`(${fmtMs(h.durationMs)}, ${h.roundTrips} round trips)`)}${why}`;
}

export function formatRecap(res: RunResult, st: Style): string {
  const t = res.totals;
  const lines = [
    st.bold(res.mode === 'plan' ? 'PLAN RECAP (dry run: nothing was changed)' : 'RECAP'),
    ...res.hosts.map((h) => recapLine(h, st)),
  ];
  lines.push(
    `${'TOTAL'.padEnd(16)} hosts=${t.hosts} ok=${t.ok} changed=${t.changed} failed=${t.failed} skipped=${t.skipped} unreachable=${t.unreachable}  ${st.dim(`(${fmtMs(res.durationMs)})`)}`,
  );
  if (res.interrupted)
    lines.push(st.red('interrupted: no new step was started after the signal; finished writes are complete (atomic)'));
  if (res.mode === 'plan')
    lines.push(
      t.changed ? st.yellow(`${t.changed} change(s) pending: run 'apply' to make them`) : st.green('nothing to change'),
    );
  return lines.join('\n');
}
