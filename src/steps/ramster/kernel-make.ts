import { NATIVE_BUILD_ENV } from '../../kernel/kconfig-merge.ts';
import { writeFileAtomic } from '../../transport/fileops.ts';
import { hostPath, type Transport } from '../../transport/types.ts';
import { parseManifest, type Manifest, type PackageFormat } from '../../kernel/plan.ts';
import { commandFailed, shq } from '../../shell.ts';
import { bodyLines, framed } from '../../frame.ts';

/**
 * The build on the build host, in `<cache_dir>/<key>/`: a copy of the source tree (so the
 * user's tree and the unpacked git/tarball trees are never built in or patched), the
 * patches applied once to that copy, the merged .config, `make -j bindeb-pkg|binrpm-pkg`,
 * then the packages, a manifest and a `complete` marker; the copy is removed after success.
 *
 * The build runs detached (setsid, output in build.log, exit code in build.status), so a
 * dropped SSH connection does not kill a 40-minute build, and the step polls it, logging
 * progress (objects compiled, the last make line, elapsed time). A second run while a build
 * of the same key is still going attaches to it (and the build script itself holds a flock).
 */
export interface BuildJob {
  t: Transport;
  /** Build host, for messages. */
  label: string;
  /** `<cache_dir>/<key>` on the build host (host path). */
  dir: string;
  key: string;
  tree: string;
  config: string;
  format: PackageFormat;
  patches: { name: string; content: Buffer }[];
  jobs?: number;
  timeoutMs: number;
  progressMs: number;
  pollMs?: number;
  log(line: string): void;
}

export class KernelBuildError extends Error {
  constructor(
    message: string,
    readonly logPath: string,
  ) {
    super(message);
    this.name = 'KernelBuildError';
  }
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

async function sh(t: Transport, script: string, what: string, timeoutMs = 120_000): Promise<string> {
  const r = await t.exec(script, { timeoutMs });
  if (r.code !== 0) throw new Error(commandFailed(what, r, { on: t.target, lines: 8 }));
  return r.stdout;
}

/** The manifest of a finished build of this key, if the build host has one. */
export async function readCachedManifest(t: Transport, dir: string): Promise<Manifest | undefined> {
  const d = shq(hostPath(t, dir));
  const out = await sh(
    t,
    `if [ -f ${d}/complete ] && [ -f ${d}/manifest ]; then cat ${d}/manifest; fi`,
    `reading the kernel cache ${dir}`,
  );
  return out.trim() ? parseManifest(out) : undefined;
}

const REQUIRED_TOOLS: Record<PackageFormat, string[]> = {
  deb: [
    'make',
    'gcc',
    'bc',
    'flex',
    'bison',
    'perl',
    'tar',
    'patch',
    'flock',
    'setsid',
    'dpkg-deb',
    'dpkg-buildpackage',
  ],
  rpm: ['make', 'gcc', 'bc', 'flex', 'bison', 'perl', 'tar', 'patch', 'flock', 'setsid', 'rpmbuild'],
};
const INSTALL_HINT: Record<PackageFormat, string> = {
  deb: 'apt-get install build-essential bc bison flex libelf-dev libssl-dev dpkg-dev fakeroot cpio kmod rsync patch',
  rpm: 'dnf install gcc make bc bison flex elfutils-libelf-devel openssl-devel rpm-build perl patch',
};

function buildScript(job: BuildJob): string {
  const h = (p: string) => shq(hostPath(job.t, p));
  const pkgVersion = `-rp.${job.key.slice(0, 12)}`;
  return `#!/bin/sh
# Written by ramster-provision kernel_build: build ${job.key}.
set -eu
dir=${h(job.dir)}; src=${h(job.tree)}; cfg=${h(job.config)}; fmt=${job.format}; jobs=${job.jobs ?? ''}
say() { echo "ramster-provision: $*"; }
exec 9>"$dir.lock"
flock 9
if [ -f "$dir/complete" ]; then say "already built by another run"; exit 0; fi
rm -rf "$dir/tree" "$dir/rpmbuild" "$dir/manifest"
find "$dir" -maxdepth 1 -type f \\( -name '*.deb' -o -name '*.rpm' -o -name '*.buildinfo' -o -name '*.changes' \\) -exec rm -f {} +
mkdir "$dir/tree"
say "copying the source tree $src"
(cd "$src" && tar --exclude=./.git -cf - .) | tar -C "$dir/tree" -xf -
cp "$cfg" "$dir/tree/.config"
cd "$dir/tree"
${NATIVE_BUILD_ENV}
for p in "$dir"/patches/*.patch; do
  [ -f "$p" ] || continue
  say "applying $(basename "$p")"
  if ! patch -p1 --forward --batch --fuzz=0 --dry-run < "$p" > "$dir/patch.out" 2>&1; then
    cat "$dir/patch.out"; say "patch $(basename "$p") does not apply to $src"; exit 65
  fi
  patch -p1 --forward --batch --fuzz=0 < "$p"
done
if grep -q olddefconfig scripts/kconfig/Makefile; then make olddefconfig; else make oldnoconfig; fi
[ -n "$jobs" ] || jobs=$(nproc)
kv=$(make -s kernelversion)
# Older trees (3.x) have no bindeb-pkg: their deb-pkg builds only the binary packages.
target=bin$fmt-pkg
if [ "$fmt" = deb ] && ! grep -q '^bindeb-pkg' scripts/package/Makefile; then target=deb-pkg; fi
say "building Linux $kv with make -j$jobs $target"
if [ "$fmt" = deb ]; then
  make -j"$jobs" KDEB_PKGVERSION="$kv${pkgVersion}" "$target"
else
  HOME="$dir" make -j"$jobs" RPMOPTS="--define '_topdir $dir/rpmbuild'" binrpm-pkg
fi
release=$(make -s kernelrelease)
cd "$dir"
if [ "$fmt" = rpm ]; then
  find "$dir/rpmbuild/RPMS" -name '*.rpm' -exec mv {} "$dir/" \\;
  image=$(ls kernel-[0-9]*.rpm 2>/dev/null | head -n 1 || true)
else
  image=$(ls linux-image-*.deb 2>/dev/null | grep -v -- '-dbg_' | head -n 1 || true)
fi
[ -n "$image" ] || { say "the build made no kernel image package"; exit 66; }
{ echo "release $release"; echo "format $fmt"; echo "image $image"
  for f in *."$fmt"; do echo "file $(sha256sum "$f" | cut -d' ' -f1) $(stat -c %s "$f") $f"; done; } > manifest.partial
mv manifest.partial manifest
rm -rf "$dir/tree" "$dir/rpmbuild" "$dir"/*.buildinfo "$dir"/*.changes "$dir/patch.out"
touch complete
say "built $release: $(ls *."$fmt" | tr '\\n' ' ')"
`;
}

/** Builds (or attaches to the running build of) `job.key`; returns its manifest. */
export async function runBuild(job: BuildJob): Promise<Manifest> {
  const { t } = job;
  const d = shq(hostPath(t, job.dir));
  const logPath = `${job.dir}/build.log`;
  await checkBuildTools(job);
  await startOrAttach(job, d);
  const started = Date.now();
  await watchBuild(job, d, logPath, started);
  const manifest = await readCachedManifest(t, job.dir);
  if (!manifest)
    throw await buildFailure(
      job,
      logPath,
      `the kernel build on ${job.label} ended without a package manifest in ${job.dir}`,
    );
  job.log(`built kernel ${manifest.release} (${job.key}) on ${job.label} in ${formatDuration(Date.now() - started)}`);
  return manifest;
}

/** Fails when a tool the build needs is not installed on the host. */
async function checkBuildTools(job: BuildJob): Promise<void> {
  const missing = (
    await sh(
      job.t,
      REQUIRED_TOOLS[job.format].map((x) => `command -v ${x} >/dev/null 2>&1 || echo ${x}`).join('\n'),
      'checking the build tools',
    )
  ).trim();
  if (missing)
    throw new Error(
      `cannot build the kernel on ${job.label}: ${missing.split('\n').join(', ')} not installed (${INSTALL_HINT[job.format]})`,
    );
}

/** The one check on the build host that the build in $d still runs (its pid file's process). */
const BUILD_ALIVE = `build_alive() { [ -f "$d/build.pid" ] && kill -0 "$(cat "$d/build.pid")" 2>/dev/null; }`;

/** Waits for the build already running in the job's directory, or writes the patches and the
 *  build script there and starts it, detached from this connection. */
async function startOrAttach(job: BuildJob, d: string): Promise<void> {
  const { t } = job;
  const attached = await sh(
    t,
    `d=${d}; ${BUILD_ALIVE}; if [ ! -f "$d/build.status" ] && build_alive; then echo attached; fi`,
    'looking for a running build',
  );
  if (attached.trim() === 'attached') {
    job.log(`a build of ${job.key} is already running on ${job.label}: waiting for it`);
    return;
  }
  await sh(t, `rm -rf ${d}/patches && mkdir -p ${d}/patches`, `preparing ${job.dir}`);
  for (const [i, p] of job.patches.entries()) {
    await writeFileAtomic(
      t,
      `${job.dir}/patches/${String(i + 1).padStart(2, '0')}-${p.name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/\.patch$/, '')}.patch`,
      p.content,
    );
  }
  await writeFileAtomic(t, `${job.dir}/build.sh`, buildScript(job), { mode: '0755' });
  await sh(
    t,
    `cd ${d} && rm -f build.status build.pid && setsid sh -c 'echo $$ > build.pid; sh ./build.sh > build.log 2>&1; echo $? > build.status.tmp; mv build.status.tmp build.status' </dev/null >/dev/null 2>&1 &`,
    'starting the kernel build',
  );
}

/** The build's state, read from its directory: exit status, alive, objects compiled, last line. */
async function pollBuild(job: BuildJob, d: string): Promise<Record<string, string>> {
  const poll = framed(`d=${d}
if [ -f "$d/build.status" ]; then rp_frame status; cat "$d/build.status"; fi
${BUILD_ALIVE}; if build_alive; then rp_frame alive; echo 1; fi
rp_frame objects; grep -cE '^  (CC|AS) ' "$d/build.log" 2>/dev/null || true
rp_frame last; grep -E '^ {2}[A-Z][A-Z0-9_]* |^ramster-provision: ' "$d/build.log" 2>/dev/null | tail -n 1 | tr -s ' '`);
  const frames = poll.read(await sh(job.t, poll.script, 'watching the kernel build'));
  return Object.fromEntries(frames.list.map((f) => [f.name, bodyLines(f.body)[0] ?? '']));
}

/** Polls the build until it exits 0, logging progress; throws when it fails, dies or takes too long. */
async function watchBuild(job: BuildJob, d: string, logPath: string, started: number): Promise<void> {
  let lastLog = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, job.pollMs ?? 2000));
    const kv = await pollBuild(job, d);
    const elapsed = Date.now() - started;
    if (kv.status !== undefined) {
      const code = Number(kv.status);
      if (code === 0) return;
      throw await buildFailure(
        job,
        logPath,
        `${commandFailed(`the kernel build on ${job.label}`, { code })} after ${formatDuration(elapsed)}`,
      );
    }
    if (!kv.alive)
      throw await buildFailure(
        job,
        logPath,
        `the kernel build on ${job.label} stopped without an exit status after ${formatDuration(elapsed)} (killed, or the host rebooted)`,
      );
    if (elapsed > job.timeoutMs) {
      await job.t.exec(`kill -TERM -- -"$(cat ${d}/build.pid)" 2>/dev/null || true`, { timeoutMs: 30_000 });
      throw await buildFailure(
        job,
        logPath,
        `the kernel build on ${job.label} took longer than ${formatDuration(job.timeoutMs)} and was stopped (raise build_timeout_s)`,
      );
    }
    if (Date.now() - lastLog >= job.progressMs) {
      lastLog = Date.now();
      job.log(
        `building kernel ${job.key} on ${job.label}: ${formatDuration(elapsed)} elapsed, ${kv.objects || 0} objects compiled${kv.last ? `, ${kv.last.trim()}` : ''}`,
      );
    }
  }
}

async function buildFailure(job: BuildJob, logPath: string, what: string): Promise<KernelBuildError> {
  const r = await job.t.exec(`tail -n 30 ${shq(hostPath(job.t, logPath))} 2>/dev/null`, { timeoutMs: 30_000 });
  const tail = r.stdout.trimEnd();
  return new KernelBuildError(
    `${what}; no node was changed. Full log on ${job.label}: ${logPath}${
      tail
        ? `\nlast lines:\n${tail
            .split('\n')
            .map((l) => `  ${l}`)
            .join('\n')}`
        : ''
    }`,
    logPath,
  );
}
