import { heartbeatBlock } from '../../ramster/heartbeat.ts';
import { probe } from '../../transport/fileops.ts';
import { hostPath, type Transport } from '../../transport/types.ts';
import { convergeFile } from '../file.ts';
import { bare, decodeText, splitLines } from '../lines.ts';
import { defineStep, type Change } from '../types.ts';
import { hostLegacyCluster, osFamily } from './cluster.ts';
import { shq } from '../../shell.ts';

export type RclocalArgs = {
  marker?: string;
};

export const RCLOCAL_PATH = { debian: '/etc/rc.local', redhat: '/etc/rc.d/rc.local' } as const;
export const RCLOCAL_MARKER = 'ramster-provision heartbeat';

/**
 * rc.local with the node's heartbeat block between markers. A new file gets `#!/bin/sh -e`
 * and a final `exit 0`; an existing one keeps every other byte, the block going in place of
 * the old block, else before the last top-level `exit 0`, else at the end.
 */
export function editRclocal(current: string | undefined, block: string[], marker = RCLOCAL_MARKER): string {
  const wanted = [`# BEGIN ${marker}\n`, ...block.map((l) => `${l}\n`), `# END ${marker}\n`];
  if (current === undefined || current === '') return ['#!/bin/sh -e\n', ...wanted, 'exit 0\n'].join('');
  let lines = splitLines(current);
  if (!lines[0].startsWith('#!')) lines = ['#!/bin/sh -e\n', ...lines];
  if (!lines[lines.length - 1].endsWith('\n')) lines[lines.length - 1] += '\n';
  const b = lines.findIndex((l) => bare(l) === `# BEGIN ${marker}`);
  const e = b < 0 ? -1 : lines.findIndex((l, i) => i > b && bare(l) === `# END ${marker}`);
  if (b >= 0 && e < 0)
    throw new Error(
      `rc.local:${b + 1}: "# BEGIN ${marker}" has no "# END ${marker}" line after it; repair the file by hand`,
    );
  if (b >= 0) return [...lines.slice(0, b), ...wanted, ...lines.slice(e + 1)].join('');
  const exit = lines
    .map((l, i) => (/^exit 0\s*$/.test(bare(l)) ? i : -1))
    .filter((i) => i >= 0)
    .pop();
  const at = exit ?? lines.length;
  return [...lines.slice(0, at), ...wanted, ...lines.slice(at)].join('');
}

// systemd runs rc.local through rc-local.service, which systemd-rc-local-generator pulls into
// the boot as soon as the file is executable (Debian, EL7+): nothing to enable.
const generatorProbe = (t: Transport) => {
  const p = (path: string) => shq(hostPath(t, path));
  return [
    ...['/lib', '/usr/lib'].map(
      (d) => `[ -e ${p(`${d}/systemd/system-generators/systemd-rc-local-generator`)} ] && echo generator`,
    ),
    ...['/lib', '/usr/lib', '/etc'].map((d) => `[ -e ${p(`${d}/systemd/system/rc-local.service`)} ] && echo unit`),
    'true',
  ].join('\n');
};

export const rclocalStep = defineStep<RclocalArgs>()({
  name: 'ramster_rclocal',
  description:
    "The node's heartbeat lines (start the cluster, manual_node_up for every node, then on borrowing nodes the remote target with read-back and remotify on) as a marked block in rc.local (/etc/rc.local on Debian, /etc/rc.d/rc.local on Red Hat), executable, so they run at every boot; on systemd checks that rc-local.service will run it.",
  argsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      marker: {
        type: 'string',
        description: `Text after BEGIN/END on the marker lines (default "${RCLOCAL_MARKER}").`,
      },
    },
  },
  reads: () => Object.values(RCLOCAL_PATH),
  async checkApply(args, ctx) {
    const { cluster, node } = hostLegacyCluster(ctx);
    const path = RCLOCAL_PATH[osFamily(ctx)];
    const block = heartbeatBlock(cluster, node.number);

    let note = '';
    if (ctx.facts.init_system === 'systemd') {
      const found = await probe(ctx.t, generatorProbe(ctx.t), 'look for systemd-rc-local-generator', ctx.timeoutMs);
      if (!found.includes('generator')) {
        throw new Error(
          `${ctx.host} runs systemd without systemd-rc-local-generator, so ${path} would not run at boot${found.includes('unit') ? ' (rc-local.service exists but nothing pulls it in)' : ''}; ` +
            'install a systemd that ships the generator (every Debian and EL7+ systemd does) or start the block from a unit of your own',
        );
      }
      note = ' (run at boot by rc-local.service via systemd-rc-local-generator)';
    }
    // `sh -n`: a syntax error would stop the boot-time script before the heartbeat lines.
    const change = await convergeFile(
      ctx,
      { path, mode: '0755', owner: 'root', group: 'root', validate: 'sh -n %s' },
      (cur) => editRclocal(cur === undefined ? undefined : decodeText(path, cur), block, args.marker),
    );
    const out: Change =
      change.action === 'none'
        ? { ...change, summary: `${change.summary}${note}` }
        : { ...change, summary: `${change.summary}: heartbeat block for node ${node.number}${note}` };
    return out;
  },
});
