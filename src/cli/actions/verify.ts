import { readExitCode, readHosts, type HostRead } from '../../engine/readhosts.ts';
import { readOnly } from '../../transport/fileops.ts';
import type { Transport } from '../../transport/types.ts';
import { framed, type Frames } from '../../frame.ts';
import { readOptions } from '../flags.ts';
import { loadInventory } from '../../inventory/load.ts';
import { type ClusterNode, clusterOf, hostInCluster, type Inventory } from '../../inventory/types.ts';
import { modernPlan, type ModernPlan } from '../../modern/plan.ts';
import { MODERN_PROBE_SCRIPT, parseModernProbe, type ModernProbe } from '../../modern/probe.ts';
import { type Check as ModernCheck, modernFindings, modernStatus, verifyModernNode } from '../../modern/verify.ts';
import { parseCounters, remoteActivity } from '../../ramster/counters.ts';
import { classifyDmesg } from '../../ramster/dmesg.ts';
import { PROBE_SCRIPT, parseProbe, type Probe } from '../../ramster/probe.ts';
import { NEEDS_KERNEL_NOTE, verifyNode, type Check } from '../../ramster/verify.ts';
import { makeStyle } from '../../report/style.ts';
import type { HostFlags } from '../flags.ts';
import type { LegacyCluster } from '../../ramster/model.ts';

export interface Flags extends HostFlags {
  strict?: boolean;
}

/** A node's probe: the legacy RAMster one, or the modern backend's with the node's plan. */
type NodeProbe =
  | { legacy: Probe; cluster: LegacyCluster; node: ClusterNode }
  | { modern: ModernProbe; plan: ModernPlan };

/** A probe's frames, whatever its exit code (its sections say what it could read). */
async function readFramed(t: Transport, script: string): Promise<Frames> {
  const f = framed(script);
  return f.read((await t.exec(f.script, readOnly())).stdout);
}

/** The read-only probe of every selected cluster host, through the engine: one command each. */
async function probeHosts(inv: Inventory, o: Flags): Promise<HostRead<NodeProbe>[]> {
  const reads = await readHosts(
    inv,
    readOptions(o, (h: string) => !!clusterOf(inv, h)),
    async (t, h) => {
      const { cluster, node } = hostInCluster(inv, h)!;
      if (cluster.backend === 'modern')
        return {
          modern: parseModernProbe(await readFramed(t, MODERN_PROBE_SCRIPT)),
          plan: modernPlan(cluster, node),
        };
      return { legacy: parseProbe(await readFramed(t, PROBE_SCRIPT)), cluster, node };
    },
  );
  if (!reads.length)
    throw new Error(
      `no cluster host selected in ${inv.file}${o.limit ? ` by --limit ${o.limit}` : ''}: hosts need a group with a 'ramster:' section`,
    );
  return reads;
}

/** Why a host has no probe: unreachable, or its probe failed. */
function noProbe(r: Exclude<HostRead<NodeProbe>, { value: NodeProbe }>): { unreachable: string } | { failed: string } {
  return 'unreachable' in r ? { unreachable: r.unreachable } : { failed: r.failed };
}

export async function verifyHosts(o: Flags, setCode: (c: number) => void): Promise<void> {
  const inv = await loadInventory(o.inventory);
  const probes = await probeHosts(inv, o);
  const st = makeStyle(process.stdout, !o.color);
  const report: Record<string, { unreachable?: string; failed?: string; checks?: (Check | ModernCheck)[] }> = {};
  for (const r of probes) {
    const h = r.host;
    if (!('value' in r)) {
      report[h] = noProbe(r);
      continue;
    }
    const p = r.value;
    report[h] = {
      checks: 'modern' in p ? verifyModernNode(p.plan, p.modern) : verifyNode(p.cluster, p.node, p.legacy),
    };
  }
  const all = Object.values(report).flatMap((r) => r.checks ?? []);
  const failed =
    all.some((c) => c.status === 'fail' || (o.strict && c.status === 'needs-ramster-kernel')) ||
    Object.values(report).some((r) => r.failed);
  const unreachable = Object.values(report).some((r) => r.unreachable);
  if (o.json) process.stdout.write(`${JSON.stringify({ hosts: report }, null, 2)}\n`);
  else {
    for (const [h, r] of Object.entries(report)) {
      process.stdout.write(`${st.bold(`== ${h}`)}\n`);
      if (r.unreachable) process.stdout.write(`${st.red('UNREACHABLE')} ${r.unreachable}\n`);
      if (r.failed) process.stdout.write(`${st.red('FAILED')} ${r.failed}\n`);
      for (const c of r.checks ?? []) {
        const mark =
          c.status === 'pass'
            ? st.green('PASS')
            : c.status === 'fail'
              ? st.red('FAIL')
              : c.status === 'warn'
                ? st.yellow('WARN')
                : st.yellow('NEEDS RAMSTER KERNEL');
        process.stdout.write(`${mark}  ${c.title}${st.dim(`  [${c.evidence}]`)}\n`);
        if ((c.status === 'fail' || c.status === 'warn') && c.fix) process.stdout.write(`      fix: ${c.fix}\n`);
      }
    }
    const n = (s: string) => all.filter((c) => c.status === s).length;
    process.stdout.write(
      `\n${n('pass')} passed, ${n('fail')} failed, ${n('warn') ? `${n('warn')} warned, ` : ''}${n('needs-ramster-kernel')} need a RAMster kernel${n('needs-ramster-kernel') ? ` (${NEEDS_KERNEL_NOTE})` : ''}\n`,
    );
  }
  setCode(readExitCode(failed, unreachable));
}

const joined = (o: Record<string, string>) =>
  Object.entries(o)
    .map(([n, s]) => `${n} ${s}`)
    .join(', ') || '-';

function modernRow(m: ReturnType<typeof modernStatus>): Record<string, string | number> {
  return {
    backend: 'modern',
    role: m.role,
    remote_pages: m.remote_pages,
    foreign_pages: m.foreign_pages,
    remote_reads: m.remote_pages_read,
    remote_writes: m.remote_pages_written,
    zswap_stored: m.zswap_stored_pages,
    zswap_written_back: m.zswap_written_back_pages,
    connections: joined(m.connections),
    auth: joined(m.auth),
    encryption: joined(m.encryption),
  };
}

export async function statusHosts(o: Flags, setCode: (c: number) => void): Promise<void> {
  const inv = await loadInventory(o.inventory);
  const probes = await probeHosts(inv, o);
  const rows: Record<string, Record<string, string | number>> = {};
  for (const r of probes) {
    const h = r.host;
    if (!('value' in r)) {
      rows[h] = 'unreachable' in r ? { state: 'unreachable' } : { state: 'failed', error: r.failed };
      continue;
    }
    const p = r.value;
    if ('modern' in p) {
      rows[h] = modernRow(modernStatus(p.plan, p.modern));
      continue;
    }
    const { counters } = parseCounters(p.legacy.counters);
    const a = remoteActivity(counters);
    const z = counters.zcache ?? {};
    const sum = (suffix: string) =>
      Object.entries(z)
        .filter(([k]) => k.endsWith(suffix))
        .reduce((s, [, v]) => s + (typeof v === 'number' ? v : 0), 0);
    rows[h] = {
      backend: 'legacy',
      cluster: /Online/.test(p.legacy.ctl_status)
        ? 'Online'
        : p.legacy.dirs.includes('/sys/kernel/mm/ramster')
          ? 'Offline'
          : 'no RAMster kernel',
      remote_pers_pages: Number(p.legacy.sysfs.match(/remote_pers_pages:(\d+)/)?.[1] ?? 0),
      foreign_pages: a.foreignPages,
      pages_remoted: a.pagesRemoted,
      remote_succ_get: a.remoteGets,
      remote_failures: a.failures,
      zcache_pageframes: sum('pageframes'),
      zcache_zpages: sum('zpages'),
      zcache_zbytes: sum('zbytes'),
    };
  }
  if (o.json) process.stdout.write(`${JSON.stringify({ hosts: rows }, null, 2)}\n`);
  else process.stdout.write(`${table(rows)}\n`);
  const state = (s: string) => Object.values(rows).some((r) => r.state === s);
  setCode(readExitCode(state('failed'), state('unreachable')));
}

function findingTag(st: ReturnType<typeof makeStyle>, c: string): string {
  if (c === 'harmless') return st.dim('harmless');
  if (c === 'warning') return st.yellow('warning');
  if (c === 'config-mismatch') return st.yellow('config mismatch');
  return st.red('unrecoverable');
}

export async function doctorHosts(o: Flags, setCode: (c: number) => void): Promise<void> {
  const inv = await loadInventory(o.inventory);
  const probes = await probeHosts(inv, o);
  const st = makeStyle(process.stdout, !o.color);
  const out: Record<string, unknown> = {};
  let serious = false;
  for (const r of probes) {
    const h = r.host;
    if (!('value' in r)) {
      out[h] = noProbe(r);
      serious ||= 'failed' in r;
      continue;
    }
    const p = r.value;
    if ('modern' in p) {
      const findings = modernFindings(p.plan, p.modern);
      serious ||= findings.some((f) => f.class !== 'harmless' && f.class !== 'warning');
      out[h] = { backend: 'modern', findings };
      continue;
    }
    const findings = classifyDmesg(p.legacy.dmesg.split('\n')).filter((f) => f.class !== 'info');
    serious ||= findings.some((f) => f.class !== 'harmless');
    out[h] = { ramsterKernel: p.legacy.dirs.includes('/sys/kernel/mm/ramster'), findings };
  }
  if (o.json) process.stdout.write(`${JSON.stringify({ hosts: out }, null, 2)}\n`);
  else
    for (const [h, r] of Object.entries(out) as [
      string,
      {
        unreachable?: string;
        failed?: string;
        backend?: string;
        ramsterKernel?: boolean;
        findings?: { class: string; line: string; what: string; fix?: string }[];
      },
    ][]) {
      const healthy = r.backend === 'modern' || r.ramsterKernel;
      process.stdout.write(`${st.bold(`== ${h}`)}\n`);
      if (r.unreachable) process.stdout.write(`${st.red('UNREACHABLE')} ${r.unreachable}\n`);
      else if (r.failed) process.stdout.write(`${st.red('FAILED')} ${r.failed}\n`);
      else if (!healthy) process.stdout.write(`${st.yellow('no RAMster kernel')}: ${NEEDS_KERNEL_NOTE}\n`);
      if (r.findings && !r.findings.some((f) => f.class !== 'harmless' && f.class !== 'warning') && healthy)
        process.stdout.write(`${st.green('no problem found')}\n`);
      for (const f of r.findings ?? []) {
        const tag = findingTag(st, f.class);
        process.stdout.write(`${tag}  ${f.line.trim()}\n      ${f.what}${f.fix ? `\n      fix: ${f.fix}` : ''}\n`);
      }
    }
  setCode(
    readExitCode(
      serious,
      Object.values(out).some((r) => (r as { unreachable?: string }).unreachable),
    ),
  );
}

function table(rows: Record<string, Record<string, string | number>>): string {
  const cols = [...new Set(Object.values(rows).flatMap((r) => Object.keys(r)))];
  const head = ['node', ...cols];
  const body = Object.entries(rows).map(([h, r]) => [h, ...cols.map((c) => String(r[c] ?? ''))]);
  const widths = head.map((_, i) => Math.max(...[head, ...body].map((row) => row[i].length)));
  return [head, ...body]
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
