import { shortHostname } from '../../ramster/confparse.ts';
import { probeFrames, run } from '../../transport/fileops.ts';
import { bodyLines } from '../../frame.ts';
import { hostPath, type Transport } from '../../transport/types.ts';
import { convergeFile } from '../file.ts';
import { decodeText, splitLines } from '../lines.ts';
import { defineStep, noChange, type Change, type StepContext } from '../types.ts';
import { hostCluster, isImageTarget } from './cluster.ts';
import { shq } from '../../shell.ts';

export type PreflightArgs = {
  /** A boolean; the schema also lets a `{{ variable }}` through, and checkApply refuses what it
   *  interpolates to unless that is a boolean. */
  set_hostname?: boolean | string;
};

/** The ocfs2 parser's rule: the node name equals the hostname or the hostname's short form. */
export function hostnameMatches(hostname: string, nodeName: string): boolean {
  return hostname === nodeName || shortHostname(hostname) === nodeName;
}

interface HostnameState {
  /** Running system's name (`uname -n`); undefined for an image. */
  runtime?: string;
  /** File that keeps the name across reboots, and the name it holds ('' when unset). */
  file: '/etc/hostname' | '/etc/sysconfig/network';
  persistent: string;
}

/** Paths through hostPath: a folder's hostname files are read inside the folder only. */
const readScript = (t: Transport) => {
  const p = (path: string) => shq(hostPath(t, path));
  return `${t.root ? '' : 'rp_frame runtime; uname -n'}
if [ -f ${p('/etc/hostname')} ]; then rp_frame etc_hostname; sed -e 's/[[:space:]]*$//' -e '/^[[:space:]]*#/d' -e '/^$/d' ${p('/etc/hostname')} | head -n 1; fi
if [ -f ${p('/etc/sysconfig/network')} ]; then rp_frame sysconfig; sed -n 's/^HOSTNAME=//p' ${p('/etc/sysconfig/network')} | tail -n 1; fi`;
};

async function readHostname(ctx: StepContext): Promise<HostnameState> {
  // A folder's paths are under its root; a chroot or a real host sees its own paths.
  const frames = await probeFrames(ctx.t, readScript(ctx.t), 'read hostname', ctx.timeoutMs);
  const kv = new Map(frames.list.map((f) => [f.name, (bodyLines(f.body)[0] ?? '').trim()]));
  const runtime = isImageTarget(ctx.t) ? undefined : kv.get('runtime');
  // EL6 keeps the name in /etc/sysconfig/network; everything newer (and Debian) in /etc/hostname.
  if (!kv.has('etc_hostname') && ctx.facts.os_family === 'redhat' && kv.has('sysconfig')) {
    return { runtime, file: '/etc/sysconfig/network', persistent: unquote(kv.get('sysconfig')!) };
  }
  return { runtime, file: '/etc/hostname', persistent: kv.get('etc_hostname') ?? '' };
}

function unquote(v: string): string {
  return v.replace(/^(["'])(.*)\1$/, '$2');
}

/** /etc/sysconfig/network with its last HOSTNAME= line set (appended when there is none). */
function withSysconfigHostname(text: string, name: string): string {
  const lines = splitLines(text);
  const last = lines
    .map((l, i) => (/^HOSTNAME=/.test(l) ? i : -1))
    .filter((i) => i >= 0)
    .pop();
  if (last !== undefined) lines[last] = `HOSTNAME=${name}\n`;
  else {
    if (lines.length && !lines[lines.length - 1].endsWith('\n')) lines[lines.length - 1] += '\n';
    lines.push(`HOSTNAME=${name}\n`);
  }
  return lines.join('');
}

function factProblems(ctx: StepContext): string[] {
  const f = ctx.facts;
  const problems: string[] = [];
  if (f.arch !== 'x86_64')
    problems.push(
      `architecture is ${f.arch || 'unknown'}: RAMster has only been tested on x86_64 (HOW-TO, section A) — use x86_64 hosts`,
    );
  if (f.os_family !== 'debian' && f.os_family !== 'redhat')
    problems.push(
      `distribution ${f.distro || 'unknown'} (family ${f.os_family}) is not supported: the legacy backend knows Debian and Red Hat families (EL6 is the HOW-TO's reference) — check /etc/os-release`,
    );
  if (f.init_system === 'unknown')
    problems.push(
      'init system unknown (neither systemd nor SysV init found): the ramster service, rc.local and the shutdown ordering need one of them',
    );
  if (f.boot_loader !== 'grub2' && f.boot_loader !== 'grub-legacy')
    problems.push(
      `boot loader ${f.boot_loader}: the grub stage needs GRUB 2 (/etc/default/grub with update-grub or grub2-mkconfig) or EL6's legacy GRUB with grubby — install the distribution's grub package`,
    );
  return problems;
}

export const preflightStep = defineStep<PreflightArgs>()({
  name: 'preflight',
  description:
    "Checks that the host can run the legacy RAMster backend (x86_64, Debian or Red Hat family, systemd or SysV init, GRUB) and that its hostname is the inventory's node name (or that name's long form); set_hostname: true sets it instead of failing.",
  argsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      set_hostname: {
        // A `{{ variable }}` is allowed so the inventory can decide (site.yaml: set_hostname).
        anyOf: [{ type: 'boolean' }, { type: 'string', pattern: '^\\{\\{.*\\}\\}$' }],
        description:
          'true: when the hostname is not ramster.node.hostname, set it (hostnamectl, or /etc/hostname and `hostname`; a folder target only gets /etc/hostname). false (default): fail and say how to fix it.',
      },
    },
  },
  async checkApply(args, ctx) {
    if (args.set_hostname !== undefined && typeof args.set_hostname !== 'boolean')
      throw new Error(`preflight: set_hostname must be true or false, got ${JSON.stringify(args.set_hostname)}`);
    const { cluster, node } = hostCluster(ctx);
    const problems = factProblems(ctx);
    if (problems.length)
      throw new Error(`${ctx.host} cannot run the legacy RAMster backend:\n  - ${problems.join('\n  - ')}`);

    const f = ctx.facts;
    const facts = `${f.arch}, ${f.distro} ${f.distro_version}, ${f.init_system}, ${f.boot_loader}, kernel ${f.kernel_release}`;
    const want = node.hostname;
    const hn = await readHostname(ctx);
    const wrong: string[] = [];
    if (hn.runtime !== undefined && !hostnameMatches(hn.runtime, want))
      wrong.push(`the running hostname is '${hn.runtime}'`);
    if (!hostnameMatches(hn.persistent, want))
      wrong.push(hn.persistent ? `${hn.file} holds '${hn.persistent}'` : `${hn.file} sets no hostname`);
    if (!wrong.length)
      return noChange(
        `${facts}; hostname ${hn.runtime ?? hn.persistent} is node ${node.number} (${want}) of cluster ${cluster.name}`,
      );

    if (!args.set_hostname) {
      throw new Error(
        `${wrong.join(' and ')}, but the inventory names node ${node.number} of cluster ${cluster.name} '${want}' (the ramster.conf node name must equal \`hostname\` or its short form). ` +
          `Fix: set \`set_hostname: true\` (site.yaml reads the inventory variable set_hostname) to let the run set it, or change \`hostname:\` of host ${ctx.host} in the inventory to this machine's name.`,
      );
    }
    // The persistent file first (atomic, with a diff), then the running name.
    const file = await convergeFile(ctx, { path: hn.file, mode: '0644' }, (cur) =>
      hn.file === '/etc/hostname'
        ? `${want}\n`
        : withSysconfigHostname(cur === undefined ? '' : decodeText(hn.file, cur), want),
    );
    const setRuntime = hn.runtime !== undefined && !hostnameMatches(hn.runtime, want);
    if (ctx.apply && setRuntime) {
      const w = shq(want);
      await run(
        ctx.t,
        `if command -v hostnamectl >/dev/null 2>&1 && [ -d /run/systemd/system ] && hostnamectl set-hostname ${w} >/dev/null 2>&1; then :; else hostname ${w}; fi`,
        `set hostname ${want}`,
        undefined,
        ctx.timeoutMs,
      );
    }
    const change: Change = {
      action: 'update',
      summary: `${facts}; set hostname to ${want} (${wrong.join(', ')})${isImageTarget(ctx.t) ? ` [image: ${hn.file} only]` : ''}`,
      diff: file.diff,
    };
    return change;
  },
});
