import { createHash } from 'node:crypto';
import { ensureKernelTree } from '../../kernel/kconfig-merge.ts';
import type { KernelSource } from '../../kernel/source.ts';
import { hostPath, type Transport } from '../../transport/types.ts';
import { commandFailed, shq } from '../../shell.ts';

const short = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);
const isUrl = (s: string) => /^(https?|ftp):\/\//.test(s);

export interface PreparedSource {
  /** The tree on the build host (host path, without the transport root); unknown in a dry
   *  run before a git/tarball source was unpacked. */
  tree?: string;
  /** What identifies the source for the build key; unknown when `tree` is. */
  revision?: string;
  /** Dry run: what the apply will fetch or unpack first (the tree is not there yet). */
  pending?: string;
  /** Apply: what was fetched or unpacked in this call. */
  did?: string;
}

export interface SourceOptions {
  cacheDir: string;
  apply: boolean;
  /** Also compute `revision` (a path tree's fingerprint costs a walk over its files). */
  revision: boolean;
  timeoutMs?: number;
  log?(line: string): void;
}

async function sh(t: Transport, script: string, what: string, timeoutMs?: number): Promise<string> {
  const r = await t.exec(script, { timeoutMs });
  if (r.code !== 0) throw new Error(commandFailed(what, r, { on: t.target, lines: 12 }));
  return r.stdout;
}

/** The tree of a source on the build host, fetched or unpacked first when `apply` is set. */
export async function prepareSource(t: Transport, src: KernelSource, o: SourceOptions): Promise<PreparedSource> {
  if (src.kind === 'path') return preparePath(t, src.path, o);
  if (src.kind === 'git') return prepareGit(t, src, o);
  return prepareTarball(t, src.location, o);
}

/**
 * A path tree's revision: for a git work tree (its top level), HEAD plus a hash of
 * `git diff HEAD` (tracked edits; build products are ignored by the kernel's .gitignore);
 * otherwise a fingerprint of the path, size and mtime of every Makefile, Kconfig, Kbuild and
 * C/assembly source outside the generated include folders. `.config` is not part of it: the
 * build key holds the config itself.
 */
const PATH_REVISION = `
git_ok=
if command -v git >/dev/null 2>&1; then
  top=$(git -c safe.directory='*' -C "$tree" rev-parse --show-toplevel 2>/dev/null || true)
  if [ -n "$top" ] && [ "$(cd "$top" && pwd -P)" = "$(cd "$tree" && pwd -P)" ]; then git_ok=1; fi
fi
if [ -n "$git_ok" ]; then
  head=$(git -c safe.directory='*' -C "$tree" rev-parse HEAD)
  diff=$(git -c safe.directory='*' -C "$tree" diff HEAD | sha256sum | cut -d' ' -f1)
  echo "git $head $diff $(git -c safe.directory='*' -C "$tree" describe --always --tags --dirty 2>/dev/null || true)"
else
  mk=$(sha256sum < "$tree/Makefile" | cut -d' ' -f1)
  files=$(cd "$tree" && find . \\( -path ./.git -o -path ./include/generated -o -path ./include/config -o -path './arch/*/include/generated' -o -path ./debian \\) -prune -o -type f \\( -name '*.[chS]' -o -name 'Kconfig*' -o -name 'Makefile*' -o -name 'Kbuild*' \\) ! -name '*.mod.c' -printf '%P\\t%s\\t%T@\\n' | LC_ALL=C sort | sha256sum | cut -d' ' -f1)
  echo "files makefile=$mk sources=$files"
fi`;

async function preparePath(t: Transport, path: string, o: SourceOptions): Promise<PreparedSource> {
  const tree = hostPath(t, path);
  const script = `tree=${shq(tree)}
if [ ! -f "$tree/Makefile" ]; then echo ${shq(`no kernel tree at ${path} (it has no Makefile)`)} >&2; exit 3; fi
${o.revision ? PATH_REVISION : ''}`;
  const out = await sh(t, script, `reading the kernel tree ${path}`, o.timeoutMs);
  return { tree: path, revision: o.revision ? `path ${out.trim()}` : undefined };
}

/** Resolves the ref with `git ls-remote` (read-only, so the dry run sees a moved branch),
 *  fetches that commit shallowly into a bare repository per URL unless it is already there,
 *  and unpacks it with `git archive` into its own tree. */
async function prepareGit(t: Transport, src: { url: string; ref: string }, o: SourceOptions): Promise<PreparedSource> {
  const repo = `${o.cacheDir}/git/${short(src.url)}.git`;
  const resolve = `url=${shq(src.url)}; ref=${shq(src.ref)}
command -v git >/dev/null 2>&1 || { echo 'git is not installed on the build host (install git)' >&2; exit 3; }
if printf '%s' "$ref" | grep -Eq '^[0-9a-f]{40}$'; then rev=$ref
else rev=$(git ls-remote -- "$url" "$ref" "$ref^{}" | awk -v r="$ref" '
      $2 == "refs/tags/" r "^{}" { p = $1 } $2 == "refs/tags/" r { tg = $1 } $2 == "refs/heads/" r { h = $1 } $2 == r { x = $1 }
      END { print (p != "" ? p : tg != "" ? tg : h != "" ? h : x) }')
fi
[ -n "$rev" ] || { echo "ref $ref not found at $url (git ls-remote)" >&2; exit 3; }
echo "$rev"`;
  const rev = (await sh(t, resolve, `resolving ${src.ref} of ${src.url}`, o.timeoutMs)).trim();
  if (!/^[0-9a-f]{7,40}$/.test(rev))
    throw new Error(`git ls-remote ${src.url} ${src.ref} answered "${rev}", not a commit`);
  const tree = `${o.cacheDir}/src/git-${rev}`;
  const r = shq(hostPath(t, repo));
  const tr = shq(hostPath(t, tree));
  const present = await sh(
    t,
    `[ -f ${tr}/Makefile ] && echo yes || echo no`,
    'looking for the unpacked source',
    o.timeoutMs,
  );
  if (present.trim() === 'yes') return { tree, revision: `git ${rev}` };
  if (!o.apply) return { pending: `fetch ${src.url} ${src.ref} (${rev.slice(0, 12)}) and unpack it into ${tree}` };
  o.log?.(`fetching ${src.url} ${src.ref} (${rev.slice(0, 12)})`);
  const script = `set -e
repo=${r}; tree=${tr}; url=${shq(src.url)}; rev=${shq(rev)}; ref=${shq(src.ref)}
mkdir -p "$(dirname "$repo")" "$(dirname "$tree")"
exec 9>"$repo.lock"; flock 9
[ -d "$repo" ] || git init -q --bare "$repo"
if ! git --git-dir="$repo" cat-file -e "$rev^{commit}" 2>/dev/null; then
  git --git-dir="$repo" fetch -q --depth=1 -- "$url" "$rev" 2>/dev/null || git --git-dir="$repo" fetch -q --depth=1 -- "$url" "$ref"
fi
git --git-dir="$repo" cat-file -e "$rev^{commit}"
if [ ! -f "$tree/Makefile" ]; then
  rm -rf "$tree.partial"; mkdir "$tree.partial"
  git --git-dir="$repo" archive "$rev" | tar -x -C "$tree.partial"
  mv "$tree.partial" "$tree"
fi`;
  await sh(t, script, `fetching ${src.url} ${src.ref}`, o.timeoutMs ?? 3_600_000);
  return { tree, revision: `git ${rev}`, did: `fetched ${src.url} ${src.ref} (${rev.slice(0, 12)}) into ${tree}` };
}

async function prepareTarball(t: Transport, location: string, o: SourceOptions): Promise<PreparedSource> {
  let file = location;
  let did = '';
  if (isUrl(location)) {
    file = `${o.cacheDir}/downloads/${short(location)}-${location
      .split('/')
      .pop()!
      .replace(/[^A-Za-z0-9._-]/g, '_')}`;
    const f = shq(hostPath(t, file));
    const have = await sh(t, `[ -f ${f} ] && echo yes || echo no`, 'looking for the downloaded tarball', o.timeoutMs);
    if (have.trim() !== 'yes') {
      if (!o.apply) return { pending: `download ${location} into ${file} and unpack it` };
      o.log?.(`downloading ${location}`);
      const get = `set -e; f=${f}; mkdir -p "$(dirname "$f")"
if command -v curl >/dev/null 2>&1; then curl -fsSL -o "$f.partial" ${shq(location)}; else wget -q -O "$f.partial" ${shq(location)}; fi
mv "$f.partial" "$f"`;
      await sh(t, get, `downloading ${location}`, o.timeoutMs ?? 3_600_000);
      did = `downloaded ${location}; `;
    }
  }
  const sum = (
    await sh(t, `sha256sum < ${shq(hostPath(t, file))} | cut -d' ' -f1`, `hashing ${file}`, o.timeoutMs)
  ).trim();
  const tree = `${o.cacheDir}/src/tar-${sum.slice(0, 16)}`;
  const present = await sh(
    t,
    `[ -f ${shq(hostPath(t, tree))}/Makefile ] && echo yes || echo no`,
    'looking for the unpacked source',
    o.timeoutMs,
  );
  if (present.trim() === 'yes') return { tree, revision: `tarball ${sum}`, did: did || undefined };
  if (!o.apply) return { pending: `unpack ${file} into ${tree}` };
  o.log?.(`unpacking ${file}`);
  await ensureKernelTree((script) => t.exec(script, { timeoutMs: o.timeoutMs ?? 3_600_000 }), {
    tarball: hostPath(t, file),
    cacheDir: hostPath(t, tree),
  });
  return { tree, revision: `tarball ${sum}`, did: `${did}unpacked ${file} into ${tree}` };
}
