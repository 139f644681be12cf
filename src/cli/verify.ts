import type { Command } from 'commander';
import pLimit from 'p-limit';
import { openTransport } from '../engine/connect.ts';
import { EXIT } from '../engine/result.ts';
import { limitedHosts } from '../engine/run.ts';
import { loadInventory } from '../inventory/load.ts';
import { clusterOf, type Inventory } from '../inventory/types.ts';
import { parseCounters, remoteActivity } from '../ramster/counters.ts';
import { classifyDmesg } from '../ramster/dmesg.ts';
import { PROBE_SCRIPT, parseProbe, type Probe } from '../ramster/probe.ts';
import { NEEDS_KERNEL_NOTE, verifyNode, type Check } from '../ramster/verify.ts';
import { makeStyle } from '../report/style.ts';
import { hostOptions, type HostFlags } from './main.ts';

interface Flags extends HostFlags {
  strict?: boolean;
}

/** Runs the read-only probe on every cluster host: one remote command each. */
async function probeHosts(inv: Inventory, o: Flags): Promise<Map<string, Probe | Error>> {
  const hosts = limitedHosts(inv, o.limit).filter((h) => clusterOf(inv, h));
  if (!hosts.length) throw new Error(`no cluster host selected in ${inv.file}${o.limit ? ` by --limit ${o.limit}` : ''}: hosts need a group with a 'ramster:' section`);
  const limit = pLimit(o.forks);
  const out = new Map<string, Probe | Error>();
  await Promise.all(
    hosts.map((h) =>
      limit(async () => {
        try {
          const t = await openTransport(inv.hosts.get(h)!, { knownHostsFile: o.knownHosts, acceptNewHostKeys: o.acceptNewHostKeys, connectTimeoutMs: o.connectTimeout * 1000 });
          try {
            out.set(h, parseProbe((await t.exec(PROBE_SCRIPT)).stdout));
          } finally {
            await t.close();
          }
        } catch (e) {
          out.set(h, e instanceof Error ? e : new Error(String(e)));
        }
      }),
    ),
  );
  return new Map(hosts.map((h) => [h, out.get(h)!]));
}

export function registerVerify(program: Command, setCode: (c: number) => void): void {
  hostOptions(program.command('verify'))
    .description('check every node of the cluster, with evidence: config, tools, boot parameters, kernel, cluster Online, node-up, connections, target, remotify')
    .option('--strict', 'count checks that need a RAMster kernel as failures on hosts without one', false)
    .action(async (o: Flags) => {
      const inv = await loadInventory(o.inventory);
      const probes = await probeHosts(inv, o);
      const st = makeStyle(process.stdout, !o.color);
      const report: Record<string, { unreachable?: string; checks?: Check[] }> = {};
      for (const [h, p] of probes) {
        if (p instanceof Error) {
          report[h] = { unreachable: p.message };
          continue;
        }
        const c = clusterOf(inv, h)!;
        report[h] = { checks: verifyNode(c, c.nodes.find((n) => n.host === h)!, p) };
      }
      const all = Object.values(report).flatMap((r) => r.checks ?? []);
      const failed = all.some((c) => c.status === 'fail' || (o.strict && c.status === 'needs-ramster-kernel'));
      const unreachable = Object.values(report).some((r) => r.unreachable);
      if (o.json) process.stdout.write(JSON.stringify({ hosts: report }, null, 2) + '\n');
      else {
        for (const [h, r] of Object.entries(report)) {
          process.stdout.write(st.bold(`== ${h}`) + '\n');
          if (r.unreachable) process.stdout.write(`${st.red('UNREACHABLE')} ${r.unreachable}\n`);
          for (const c of r.checks ?? []) {
            const mark = c.status === 'pass' ? st.green('PASS') : c.status === 'fail' ? st.red('FAIL') : st.yellow('NEEDS RAMSTER KERNEL');
            process.stdout.write(`${mark}  ${c.title}${st.dim(`  [${c.evidence}]`)}\n`);
            if (c.status === 'fail' && c.fix) process.stdout.write(`      fix: ${c.fix}\n`);
          }
        }
        const n = (s: string) => all.filter((c) => c.status === s).length;
        process.stdout.write(`\n${n('pass')} passed, ${n('fail')} failed, ${n('needs-ramster-kernel')} need a RAMster kernel${n('needs-ramster-kernel') ? ` (${NEEDS_KERNEL_NOTE})` : ''}\n`);
      }
      setCode(failed && unreachable ? EXIT.FAILED_AND_UNREACHABLE : failed ? EXIT.HOST_FAILED : unreachable ? EXIT.HOST_UNREACHABLE : EXIT.OK);
    });

  hostOptions(program.command('status'))
    .description("one table of RAMster's counters across the cluster (foreign pages held, remote gets, zcache pages and bytes)")
    .action(async (o: Flags) => {
      const inv = await loadInventory(o.inventory);
      const probes = await probeHosts(inv, o);
      const rows: Record<string, Record<string, string | number>> = {};
      for (const [h, p] of probes) {
        if (p instanceof Error) {
          rows[h] = { state: 'unreachable' };
          continue;
        }
        const { counters } = parseCounters(p.counters);
        const a = remoteActivity(counters);
        const z = counters.zcache ?? {};
        const sum = (suffix: string) => Object.entries(z).filter(([k]) => k.endsWith(suffix)).reduce((s, [, v]) => s + (typeof v === 'number' ? v : 0), 0);
        rows[h] = {
          cluster: /Online/.test(p.ctl_status) ? 'Online' : p.dirs.includes('/sys/kernel/mm/ramster') ? 'Offline' : 'no RAMster kernel',
          remote_pers_pages: Number(p.sysfs.match(/remote_pers_pages:(\d+)/)?.[1] ?? 0),
          foreign_pages: a.foreignPages,
          pages_remoted: a.pagesRemoted,
          remote_succ_get: a.remoteGets,
          remote_failures: a.failures,
          zcache_pageframes: sum('pageframes'),
          zcache_zpages: sum('zpages'),
          zcache_zbytes: sum('zbytes'),
        };
      }
      if (o.json) process.stdout.write(JSON.stringify({ hosts: rows }, null, 2) + '\n');
      else process.stdout.write(table(rows) + '\n');
      if (Object.values(rows).some((r) => r.state === 'unreachable')) setCode(EXIT.HOST_UNREACHABLE);
    });

  hostOptions(program.command('doctor'))
    .description("classify each node's RAMster kernel messages (harmless / config mismatch / unrecoverable) and say what to do")
    .action(async (o: Flags) => {
      const inv = await loadInventory(o.inventory);
      const probes = await probeHosts(inv, o);
      const st = makeStyle(process.stdout, !o.color);
      const out: Record<string, unknown> = {};
      let serious = false;
      for (const [h, p] of probes) {
        if (p instanceof Error) {
          out[h] = { unreachable: p.message };
          continue;
        }
        const findings = classifyDmesg(p.dmesg.split('\n')).filter((f) => f.class !== 'info');
        serious ||= findings.some((f) => f.class !== 'harmless');
        out[h] = { ramsterKernel: p.dirs.includes('/sys/kernel/mm/ramster'), findings };
      }
      if (o.json) process.stdout.write(JSON.stringify({ hosts: out }, null, 2) + '\n');
      else
        for (const [h, r] of Object.entries(out) as [string, { unreachable?: string; ramsterKernel?: boolean; findings?: ReturnType<typeof classifyDmesg> }][]) {
          process.stdout.write(st.bold(`== ${h}`) + '\n');
          if (r.unreachable) process.stdout.write(`${st.red('UNREACHABLE')} ${r.unreachable}\n`);
          else if (!r.ramsterKernel) process.stdout.write(`${st.yellow('no RAMster kernel')}: ${NEEDS_KERNEL_NOTE}\n`);
          if (r.findings && !r.findings.length && r.ramsterKernel) process.stdout.write(st.green('no problem messages') + '\n');
          for (const f of r.findings ?? []) {
            const tag = f.class === 'harmless' ? st.dim('harmless') : f.class === 'config-mismatch' ? st.yellow('config mismatch') : st.red('unrecoverable');
            process.stdout.write(`${tag}  ${f.line.trim()}\n      ${f.what}${f.fix ? `\n      fix: ${f.fix}` : ''}\n`);
          }
        }
      if (serious) setCode(EXIT.HOST_FAILED);
    });
}

function table(rows: Record<string, Record<string, string | number>>): string {
  const cols = [...new Set(Object.values(rows).flatMap((r) => Object.keys(r)))];
  const head = ['node', ...cols];
  const body = Object.entries(rows).map(([h, r]) => [h, ...cols.map((c) => String(r[c] ?? ''))]);
  const widths = head.map((_, i) => Math.max(...[head, ...body].map((row) => row[i].length)));
  return [head, ...body].map((row) => row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}
