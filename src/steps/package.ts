import { probe, run } from '../transport/fileops.ts';

import { defineStep, noChange, type StepContext } from './types.ts';
import { shq } from '../shell.ts';

export type PackageArgs = {
  name: string | string[];
  state?: 'present' | 'absent';
  update_cache?: boolean;
  timeout_s?: number;
};

const NAME = /^[A-Za-z0-9][A-Za-z0-9+._-]*$/;

export const packageStep = defineStep<PackageArgs>()({
  name: 'package',
  description:
    'Distribution packages present or absent (apt, dnf or yum, from the host facts); one query and one batched install for all of them.',
  argsSchema: {
    type: 'object',
    required: ['name'],
    additionalProperties: false,
    properties: {
      name: {
        description: 'Package name, or a list of names (installed together in one command).',
        oneOf: [
          { type: 'string', pattern: NAME.source },
          { type: 'array', items: { type: 'string', pattern: NAME.source }, minItems: 1 },
        ],
      },
      state: {
        enum: ['present', 'absent'],
        description: 'present (default) installs what is missing; absent removes what is installed.',
      },
      update_cache: {
        type: 'boolean',
        description: 'apt only: run apt-get update before installing (only when something is missing).',
      },
      timeout_s: {
        type: 'number',
        exclusiveMinimum: 0,
        description: 'Give up on the install/remove command after this many seconds.',
      },
    },
  },
  async checkApply(args, ctx) {
    const names = [...new Set(Array.isArray(args.name) ? args.name : [args.name])];
    for (const n of names)
      if (!NAME.test(n))
        throw new Error(`package name "${n}" is not a plain package name (letters, digits and + . _ -)`);
    const pm = packageManager(ctx);
    const installed = await queryInstalled(ctx, pm, names);
    const present = args.state !== 'absent';
    const todo = names.filter((n) => installed.has(n) !== present);
    if (!todo.length) return noChange(`${present ? 'installed' : 'not installed'}: ${names.join(', ')}`);
    const cmd = present
      ? installCommand(pm, todo, args.update_cache === true, ctx.t.root)
      : removeCommand(pm, todo, ctx.t.root);
    if (ctx.apply) {
      ctx.log(`${present ? 'installing' : 'removing'} ${todo.join(' ')}`);
      await run(
        ctx.t,
        cmd,
        `${present ? 'install' : 'remove'} ${todo.join(' ')}`,
        '',
        args.timeout_s ? args.timeout_s * 1000 : ctx.timeoutMs,
      );
    }
    return {
      action: present ? 'create' : 'delete',
      summary: `${present ? 'install' : 'remove'} ${todo.join(', ')}: ${cmd}`,
    };
  },
});

type Manager = 'apt' | 'dnf' | 'yum';

function packageManager(ctx: StepContext): Manager {
  const pm = ctx.facts.package_manager;
  if (pm === 'unknown') {
    throw new Error(
      `no supported package manager on ${ctx.host} (looked for apt-get, dnf, yum in /usr/bin); install the packages in the image, or remove this step for this host`,
    );
  }
  return pm;
}

/** One command for all names. A folder target (transport root) is queried through its own
 *  package database. */
async function queryInstalled(ctx: StepContext, pm: Manager, names: string[]): Promise<Set<string>> {
  const root = ctx.t.root;
  const list = names.join(' ');
  const script =
    pm === 'apt'
      ? // exit 1 only means "some names unknown"; dpkg-query missing is exit 127 from the shell
        `command -v dpkg-query >/dev/null || { echo 'dpkg-query not found' >&2; exit 127; }\n` +
        `dpkg-query ${root ? `--admindir=${shq(`${root}/var/lib/dpkg`)} ` : ''}-W -f '\${Package}\\t\${Status}\\n' ${list} 2>/dev/null; true`
      : `command -v rpm >/dev/null || { echo 'rpm not found' >&2; exit 127; }\n` +
        `rpm -q ${root ? `--root ${shq(root)} ` : ''}--qf '%{NAME}\\tinstalled\\t%{ARCH}\\n' ${list}; true`;
  const out = await probe(ctx.t, script, 'query installed packages', ctx.timeoutMs);
  const installed = new Set<string>();
  for (const line of out.split('\n')) {
    const [name, status, arch] = line.split('\t');
    // dpkg: "install ok installed" or "hold ok installed"; "deinstall ok config-files" is not.
    if (!status || !/(^| )installed$/.test(status.trim())) continue;
    installed.add(name);
    if (arch) installed.add(`${name}.${arch.trim()}`); // rpm names may carry .arch
  }
  return installed;
}

function installCommand(pm: Manager, names: string[], updateCache: boolean, root: string): string {
  const list = names.join(' ');
  if (pm === 'apt') {
    const install = `DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${list}`;
    const update = 'apt-get update -q';
    if (!root) return updateCache ? `${update} && ${install}` : install;
    const inRoot = `chroot ${shq(root)} env ${install}`;
    return updateCache ? `chroot ${shq(root)} ${update} && ${inRoot}` : inRoot;
  }
  return `${pm} -y ${root ? `--installroot=${shq(root)} ` : ''}install ${list}`;
}

function removeCommand(pm: Manager, names: string[], root: string): string {
  const list = names.join(' ');
  if (pm === 'apt') {
    const remove = `DEBIAN_FRONTEND=noninteractive apt-get remove -y ${list}`;
    return root ? `chroot ${shq(root)} env ${remove}` : remove;
  }
  return `${pm} -y ${root ? `--installroot=${shq(root)} ` : ''}remove ${list}`;
}
