import { readFile } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  explainDrop,
  findDependsOn,
  formatMissing,
  missingSymbols,
  parseConfig,
  parseKernelVersion,
  selectFragment,
  type ConfigValues,
} from '../../kernel/kconfig.ts';
import { kconfigTextFor, NATIVE_BUILD_ENV, type RunScript } from '../../kernel/kconfig-merge.ts';
import { readOnly, writeFileAtomic } from '../../transport/fileops.ts';
import { hostPath, type Transport } from '../../transport/types.ts';
import { unifiedDiff } from '../textdiff.ts';
import { defineStep, type Change, type StepContext } from '../types.ts';
import { buildHostSchema, resolveBuildHost } from './kernel-host.ts';
import { kernelSourceSchema, parseKernelSource, sourceLabel, type KernelSourceArg } from '../../kernel/source.ts';
import { prepareSource } from './kernel-source.ts';
import { commandFailed, shq } from '../../shell.ts';
import { framed } from '../../frame.ts';

export type KconfigArgs = {
  tree?: string;
  source?: KernelSourceArg;
  base?: string;
  fragments?: string[];
  extra?: string[];
  build_host?: string;
  cache_dir?: string;
};

/** The repo's kconfig/ folder: one RAMster fragment per generation. */
export const FRAGMENT_DIR = fileURLToPath(new URL('../../../kconfig/', import.meta.url));
export const DEFAULT_CACHE_DIR = '/var/cache/ramster-provision/kernels';

/** Make targets that only run `conf` (they honour KCONFIG_CONFIG, so they can write into a
 *  scratch file of a tree that already has a .config); tinyconfig and `*.config` targets
 *  merge into the tree's own .config and are left out on purpose. */
const BASE_PATTERN = '^(auto|olddefconfig|all(no|yes|mod|def)config|[A-Za-z0-9_.-]*defconfig|/.*)$';

export const kconfigStep = defineStep<KconfigArgs>()({
  name: 'kconfig',
  description:
    "Kernel .config = base + config fragments (default: the tree's RAMster fragment from kconfig/, chosen by its Makefile VERSION/PATCHLEVEL), merged with the tree's merge_config.sh and `make olddefconfig` in a scratch file; fails naming every fragment symbol that did not survive and the dependency that dropped it; replaces the tree's .config only when the result differs.",
  argsSchema: {
    type: 'object',
    additionalProperties: false,
    oneOf: [{ required: ['tree'] }, { required: ['source'] }],
    properties: {
      tree: {
        type: 'string',
        pattern: '^/',
        description: 'Kernel source tree on the build host whose .config is managed (or give source).',
      },
      source: {
        ...kernelSourceSchema,
        description: `${kernelSourceSchema.description} The same value as kernel_build's source (or give tree).`,
      },
      base: {
        type: 'string',
        pattern: BASE_PATTERN,
        description:
          "Starting config: 'auto' (default: the tree's .config through olddefconfig, or defconfig when it has none), 'olddefconfig', a conf make target (defconfig, allnoconfig, x86_64_defconfig, …; for tinyconfig use allnoconfig plus kernel/configs/tiny.config in extra), or the absolute path of a config file on the build host (e.g. /boot/config-{{ facts.kernel_release }}).",
      },
      fragments: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        description:
          "Fragment files (relative to the playbook's folder) that replace the default RAMster fragment; giving them also allows trees without RAMster (>= 3.11).",
      },
      extra: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        description: "More fragment files merged after the fragments (relative to the playbook's folder).",
      },
      build_host: buildHostSchema,
      cache_dir: {
        type: 'string',
        pattern: '^/',
        description: `Where git and tarball sources are unpacked on the build host (default ${DEFAULT_CACHE_DIR}).`,
      },
    },
  },
  async checkApply(args, ctx) {
    const role = resolveBuildHost(ctx, args.build_host);
    if (!role.isActor)
      return {
        action: 'none',
        summary: `kernel configured on ${role.label}`,
        skipped: `the kernel is configured on the build host, ${role.label}`,
      };
    const t = role.t!;
    const on = role.buildHost === ctx.host ? '' : ` on ${role.label}`;
    let tree = args.tree;
    let fetched = '';
    if (tree === undefined) {
      if (args.source === undefined) throw new Error('kconfig needs tree (a kernel tree on the build host) or source');
      const src = parseKernelSource(args.source);
      const prep = await prepareSource(t, src, {
        cacheDir: args.cache_dir ?? DEFAULT_CACHE_DIR,
        apply: ctx.apply,
        revision: false,
        timeoutMs: ctx.timeoutMs,
        log: ctx.log,
      });
      if (!prep.tree) {
        return {
          action: 'run',
          summary: `${prep.pending}${on}, then merge the kernel config fragments into its .config`,
          conditional: `the merge and the fragment check run once the source ${sourceLabel(src)} is unpacked`,
        };
      }
      tree = prep.tree;
      fetched = prep.did ? `${prep.did}; ` : '';
    }
    const change = await convergeKernelConfig(t, { ...args, tree }, ctx);
    return fetched || on ? { ...change, summary: `${fetched}${change.summary}${on}` } : change;
  },
});

interface Fragment {
  name: string;
  text: string;
}

interface MergeResult {
  final: string;
  current?: string;
  baseLabel: string;
}

/** Merge in a scratch file, check every fragment symbol, then replace the tree's .config
 *  only when the result differs. */
export async function convergeKernelConfig(
  t: Transport,
  args: KconfigArgs & { tree: string },
  ctx: Pick<StepContext, 'apply' | 'baseDir' | 'timeoutMs' | 'log'>,
): Promise<Change> {
  const tree = args.tree.replace(/\/+$/, '');
  const probe = await t.exec(
    `sed -n '1,40p' ${shq(hostPath(t, `${tree}/Makefile`))}`,
    readOnly({ timeoutMs: ctx.timeoutMs }),
  );
  if (probe.code !== 0) throw new Error(`no kernel tree at ${tree} on ${t.target}: cannot read ${tree}/Makefile`);
  const version = parseKernelVersion(probe.stdout);
  if (!version) throw new Error(`${tree}/Makefile has no VERSION/PATCHLEVEL lines: is ${tree} a Linux source tree?`);
  const fragments = await loadFragments(args, version, ctx.baseDir);
  const merged = await mergeInScratch(t, tree, args.base ?? 'auto', fragments, ctx.timeoutMs);

  const final = parseConfig(merged.final);
  const wanted: ConfigValues = new Map();
  const from = new Map<string, string>();
  for (const f of fragments)
    for (const [sym, v] of parseConfig(f.text)) {
      wanted.set(sym, v);
      from.set(sym, f.name);
    }
  const missing = missingSymbols(wanted, final);
  const fragLabel = fragments.length ? fragments.map((f) => f.name).join(' + ') : 'no fragment';
  if (missing.length) {
    const run: RunScript = (script) => t.exec(script, { timeoutMs: ctx.timeoutMs });
    const lines: string[] = [];
    for (const m of missing) {
      const defs = findDependsOn(await kconfigTextFor(run, hostPath(t, tree), m.symbol), m.symbol);
      lines.push(
        `  - ${formatMissing(m)} (from ${from.get(m.symbol)}): ${explainDrop(m.symbol, defs, final, m.wanted).reason}`,
      );
    }
    throw new Error(
      `${missing.length} fragment symbol${missing.length > 1 ? 's' : ''} did not survive \`make olddefconfig\` in ${tree} (Linux ${version.version}.${version.patchlevel}, base ${merged.baseLabel}, ${fragLabel}); ${tree}/.config was left as it was:\n` +
        `${lines.join('\n')}\n  hint: enable the dependencies named above (a fragment in \`extra\`, or a base config that has them), or drop the symbols from the fragment`,
    );
  }

  const path = `${tree}/.config`;
  const detail = `base ${merged.baseLabel} + ${fragLabel}; ${wanted.size} fragment symbol${wanted.size === 1 ? '' : 's'} verified`;
  if (merged.current === merged.final) return { action: 'none', summary: `${path} up to date (${detail})` };
  if (ctx.apply) await writeFileAtomic(t, path, merged.final);
  const action = merged.current === undefined ? 'create' : 'update';
  return { action, summary: `${action} ${path} (${detail})`, diff: unifiedDiff(path, merged.current, merged.final) };
}

async function loadFragments(
  args: KconfigArgs,
  version: { version: number; patchlevel: number },
  baseDir: string,
): Promise<Fragment[]> {
  const read = async (p: string): Promise<Fragment> => {
    const file = isAbsolute(p) ? p : join(baseDir, p);
    try {
      return { name: basename(p), text: await readFile(file, 'utf8') };
    } catch {
      throw new Error(`cannot read the kernel config fragment ${file}: paths are relative to the playbook's folder`);
    }
  };
  let list: Fragment[];
  if (args.fragments) list = await Promise.all(args.fragments.map(read));
  else {
    const choice = selectFragment(version);
    if (!choice.ok)
      throw new Error(`${choice.error}.\n  hint: ${choice.hint} (or give \`fragments\` to configure this tree anyway)`);
    const file = join(FRAGMENT_DIR, choice.fragment);
    list = [{ name: choice.fragment, text: await readFile(file, 'utf8') }];
  }
  return [...list, ...(await Promise.all((args.extra ?? []).map(read)))];
}

/** One command on the build host: base config and fragments into a scratch folder, the
 *  tree's merge_config.sh -m, then olddefconfig with KCONFIG_CONFIG pointing at the scratch
 *  file (so the tree's .config is only read). Only kconfig's own helper programs get
 *  compiled in the tree, as any `make *config` there would. */
async function mergeInScratch(
  t: Transport,
  tree: string,
  base: string,
  fragments: Fragment[],
  timeoutMs?: number,
): Promise<MergeResult> {
  const T = shq(hostPath(t, tree));
  const fail = (what: string) => `|| { echo ${shq(what)} >&2; tail -n 25 "$s/log" >&2; exit 1; }`;
  let baseCmd: string;
  let baseLabel: string;
  if (base === 'auto' || base === 'olddefconfig') {
    baseLabel = "the tree's .config";
    const none =
      base === 'auto'
        ? `KCONFIG_CONFIG="$s/base.config" make -s -C "$tree" defconfig >"$s/log" 2>&1 ${fail('make defconfig failed')}; echo defconfig > "$s/base.label"`
        : `echo ${shq(`${tree} has no .config to start from (base: olddefconfig); use base: defconfig or a config file`)} >&2; exit 3`;
    baseCmd = `if [ -f "$tree/.config" ]; then cp "$tree/.config" "$s/base.config"; else ${none}; fi`;
  } else if (base.startsWith('/')) {
    baseLabel = base;
    baseCmd = `cp ${shq(hostPath(t, base))} "$s/base.config" 2>/dev/null || { echo ${shq(`cannot read the base config ${base} on ${t.target}`)} >&2; exit 3; }`;
  } else {
    // A make target: never an option (`--eval=...` runs code), whatever the schema saw.
    if (!new RegExp(BASE_PATTERN).test(base))
      throw new Error(
        `kconfig base ${JSON.stringify(base)} is not 'auto', 'olddefconfig', a *config make target or an absolute path`,
      );
    baseLabel = base;
    baseCmd = `KCONFIG_CONFIG="$s/base.config" make -s -C "$tree" ${shq(base)} >"$s/log" 2>&1 ${fail(`make ${base} failed`)}`;
  }
  const writes = fragments.map(
    (f, i) => `printf '%s' ${shq(Buffer.from(f.text).toString('base64'))} | base64 -d > "$s/fragment-${i}.config"`,
  );
  const script = `set -e
${NATIVE_BUILD_ENV}
tree=${T}
s=$(mktemp -d "\${TMPDIR:-/tmp}/ramster-kconfig.XXXXXX")
trap 'rm -rf "$s"' EXIT
for tool in make cc; do command -v $tool >/dev/null 2>&1 || { echo "$tool is not installed on the build host (install make, gcc, flex, bison, bc)" >&2; exit 3; }; done
[ -f "$tree/scripts/kconfig/merge_config.sh" ] || { echo "$tree has no scripts/kconfig/merge_config.sh (a Linux tree older than 3.2?)" >&2; exit 3; }
${writes.join('\n')}
${baseCmd}
cd "$s"
KCONFIG_CONFIG="$s/.config" sh "$tree/scripts/kconfig/merge_config.sh" -m "$s/base.config" ${fragments.map((_, i) => `"$s/fragment-${i}.config"`).join(' ')} >"$s/log" 2>&1 ${fail('merge_config.sh failed')}
if grep -q olddefconfig "$tree/scripts/kconfig/Makefile"; then target=olddefconfig; else target=oldnoconfig; fi
KCONFIG_CONFIG="$s/.config" make -s -C "$tree" $target >"$s/log" 2>&1 ${fail('make olddefconfig failed')}
[ -f "$s/base.label" ] && { rp_frame base; cat "$s/base.label"; }
rp_frame final; cat "$s/.config"
if [ -f "$tree/.config" ]; then rp_frame current; cat "$tree/.config"; fi`;
  const f = framed(script);
  const r = await t.exec(f.script, { timeoutMs: timeoutMs ?? 900_000 });
  if (r.code !== 0)
    throw new Error(commandFailed(`merging the kernel config in ${tree}`, r, { on: t.target, lines: 25 }));
  const frames = f.read(r.stdout);
  const fromDefconfig = frames.body('base').trim() === 'defconfig';
  return {
    final: frames.body('final'),
    current: frames.get('current')?.body,
    baseLabel: fromDefconfig ? 'defconfig (the tree had no .config)' : baseLabel,
  };
}
