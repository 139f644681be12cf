import { commandFailed, shq } from '../shell.ts';
import {
  type ConfigValues,
  type DropExplanation,
  type MissingSymbol,
  explainDrop,
  findDependsOn,
  flattenKconfig,
  missingSymbols,
  parseConfig,
} from './kconfig.ts';

/**
 * Kernel-tree operations for the kconfig step, as POSIX sh scripts handed to a `run` callback:
 * the caller decides where they run (a local shell in tests, a host's transport in the step),
 * so this module knows nothing about SSH.
 */
export type RunScript = (script: string) => Promise<{ code: number; stdout: string; stderr: string }>;

async function must(run: RunScript, script: string, what: string): Promise<string> {
  const r = await run(script);
  if (r.code !== 0) throw new Error(commandFailed(what, r, { lines: 15 }));
  return r.stdout;
}

/**
 * Unpacks a kernel source tarball into `cacheDir` once; later calls reuse it. Unpacks into a
 * sibling `.partial` directory and renames, under flock, so an interrupted or concurrent run
 * never leaves a half tree behind.
 */
export async function ensureKernelTree(
  run: RunScript,
  opts: { tarball: string; cacheDir: string },
): Promise<{ tree: string; extracted: boolean }> {
  const dir = opts.cacheDir.replace(/\/+$/, '');
  const script = `set -e
dir=${shq(dir)}
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
if [ -f "$dir/Makefile" ]; then echo reused; exit 0; fi
rm -rf "$dir.partial"
mkdir "$dir.partial"
tar -xf ${shq(opts.tarball)} -C "$dir.partial" --strip-components=1
mv "$dir.partial" "$dir"
echo extracted`;
  const out = await must(run, script, `unpacking ${opts.tarball}`);
  return { tree: dir, extracted: out.trim() === 'extracted' };
}

export interface MergeOptions {
  /** Kernel source tree (left untouched: everything is built in `outDir`). */
  tree: string;
  /** Build directory (make O=...); created when missing. */
  outDir: string;
  /** Starting config: `defconfig` for the architecture's default, or a path to a .config. */
  base: 'defconfig' | { file: string };
  /** Fragment files merged in order (kconfig/ramster-*.config, the user's extras). */
  fragments: string[];
  /** make ARCH=..., when not the build host's. */
  arch?: string;
}

/** Shell lines that make every later `make` build for the build host itself: ARCH as the kernel's
 *  own SUBARCH rule derives it from `uname -m`, and no CROSS_COMPILE prefix. Needed because a
 *  vendor tree's Makefile may default to cross compiling (the 3.10 RAMster tree defaults to
 *  ARCH=arm64 and aarch64-linux-android-gcc); upstream Makefiles derive the same values. */
export const NATIVE_BUILD_ENV = `ARCH=$(uname -m | sed -e 's/i.86/x86/' -e 's/x86_64/x86/' -e 's/aarch64.*/arm64/' -e 's/arm.*/arm/' -e 's/ppc.*/powerpc/' -e 's/s390x/s390/' -e 's/riscv.*/riscv/' -e 's/mips.*/mips/')
CROSS_COMPILE=
export ARCH CROSS_COMPILE`;

/** Base config + fragments with merge_config.sh -m, then `make olddefconfig`; returns the final .config. */
export async function mergeKconfig(run: RunScript, opts: MergeOptions): Promise<string> {
  const make = `make -s -C ${shq(opts.tree)} O=${shq(opts.outDir)}${opts.arch ? ` ARCH=${shq(opts.arch)}` : ''}`;
  const base =
    opts.base === 'defconfig' ? `${make} defconfig` : `cp ${shq(opts.base.file)} ${shq(opts.outDir)}/.config`;
  const script = `set -e
${opts.arch ? '' : NATIVE_BUILD_ENV}
mkdir -p ${shq(opts.outDir)}
${base}
cd ${shq(opts.tree)}
scripts/kconfig/merge_config.sh -m -O ${shq(opts.outDir)} ${shq(opts.outDir)}/.config ${opts.fragments.map(shq).join(' ')} >/dev/null
${make} olddefconfig
cat ${shq(opts.outDir)}/.config`;
  return must(run, script, 'merging the kernel config');
}

/**
 * The Kconfig files that define `symbol` and the chain of files sourcing them up to the top
 * (so enclosing `if`/`menu` blocks count), flattened into one text.
 */
export async function kconfigTextFor(run: RunScript, tree: string, symbol: string): Promise<string> {
  if (!/^[A-Za-z0-9_]+$/.test(symbol)) throw new Error(`not a Kconfig symbol: ${symbol}`);
  const script = `cd ${shq(tree)} || exit 1
todo=$(grep -rlE --include='Kconfig*' '^[[:space:]]*(menu)?config[[:space:]]+${symbol}[[:space:]]*$' . | sed 's|^\\./||')
seen=' '
while [ -n "$todo" ]; do
  next=
  for f in $todo; do
    case "$seen" in *" $f "*) continue ;; esac
    seen="$seen$f "
    printf '\\036%s\\n' "$f"
    cat "$f"
    next="$next $(grep -rlF --include='Kconfig*' "source \\"$f\\"" . | sed 's|^\\./||')"
  done
  todo=$(echo $next)
done
exit 0`;
  const out = await must(run, script, `reading the Kconfig files of CONFIG_${symbol}`);
  const files: Record<string, string> = {};
  for (const rec of out.split('\x1e').slice(1)) {
    const nl = rec.indexOf('\n');
    files[rec.slice(0, nl)] = rec.slice(nl + 1);
  }
  return flattenKconfig(files);
}

export interface FragmentCheck {
  /** The final .config text. */
  config: string;
  values: ConfigValues;
  /** Fragment symbols that did not survive, each with the dependency that dropped it. */
  missing: (MissingSymbol & { explanation: DropExplanation })[];
}

/** Merge, then the HOW-TO's "doublecheck": every fragment symbol that did not survive, explained. */
export async function checkFragments(run: RunScript, opts: MergeOptions): Promise<FragmentCheck> {
  const config = await mergeKconfig(run, opts);
  const values = parseConfig(config);
  const wanted: ConfigValues = new Map();
  for (const f of opts.fragments) {
    const text = await must(run, `cat ${shq(f)}`, `reading ${f}`);
    for (const [k, v] of parseConfig(text)) wanted.set(k, v);
  }
  const missing = [];
  for (const m of missingSymbols(wanted, values)) {
    const defs = findDependsOn(await kconfigTextFor(run, opts.tree, m.symbol), m.symbol);
    missing.push({ ...m, explanation: explainDrop(m.symbol, defs, values, m.wanted) });
  }
  return { config, values, missing };
}
