import { readFile } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import { readFileState, writeFileAtomic } from '../../transport/fileops.ts';
import { hostPath } from '../../transport/types.ts';
import { defineStep, type Change, type StepContext } from '../types.ts';
import { DEFAULT_CACHE_DIR } from './kconfig.ts';
import { buildHostSchema, resolveBuildHost, type BuildHostRole } from './kernel-host.ts';
import { checkDefault, installPackage, makeDefault, readNode, type NodeReading } from './kernel-install.ts';
import { formatDuration, readCachedManifest, runBuild } from './kernel-make.ts';
import {
  buildKey,
  decideBuild,
  KEY_FILE,
  packageFormat,
  renderKeyFile,
  type BuildDecision,
  type Manifest,
  type NodeKernel,
  type PackageFormat,
} from '../../kernel/plan.ts';
import {
  kernelSourceSchema,
  parseKernelSource,
  sourceLabel,
  type KernelSource,
  type KernelSourceArg,
} from '../../kernel/source.ts';
import { prepareSource } from './kernel-source.ts';
import { pullFile, pushFile } from './kernel-transfer.ts';

/*
 * kernel_build: one kernel per cluster, built once, installed everywhere.
 *
 * Every node of the cluster runs this step; the one acting for the build host (see
 * kernel-host.ts) builds. They meet three times through ctx.cluster.exchange:
 *   1. `nodes`:    every node reports its family and the build key it has installed
 *                  (/var/lib/ramster-provision/kernel.key, trusted only while /boot/vmlinuz-<release>
 *                  is still owned by a package);
 *   2. `plan`:     the build host computes the key — sha256 of the source revision (git commit,
 *                  tarball sha256, or a path tree's git HEAD + diff / file fingerprint), the merged
 *                  .config, the patches and the package format — looks in its cache
 *                  (<cache_dir>/<key>/) and decides: build only when no package exists for the key
 *                  and some node has another key installed;
 *   3. `packages`: after the build, the build host copies the kernel image package (only that one:
 *                  headers and libc-dev packages would replace the distribution's) to the control
 *                  machine's cache (<control_cache_dir>/<key>/, skipped when it already is there or
 *                  the build host is the control machine) and publishes its path and sha256.
 * Each node then streams the package from the control machine's file to its own host through
 * its own transport (8 MiB base64 pieces, sha256-checked, renamed into place), installs it
 * (dpkg -i / rpm -i), makes it the default boot entry and records the key. Why through the
 * control machine: a step only holds its own host's transport, nodes need not reach each
 * other over SSH, and the package then stays cached on the control machine for the next node
 * or cluster. A build failure is published at step 3 before any node changes anything, so a
 * failed build leaves every node untouched, and its error names the log kept on the build host.
 */

export type KernelBuildArgs = {
  source: KernelSourceArg;
  patches?: string[];
  config?: string;
  build_host?: string;
  cache_dir?: string;
  control_cache_dir?: string;
  jobs?: number;
  build_timeout_s?: number;
  progress_s?: number;
};

type PlanMsg =
  | { error: string }
  | { pending: string; format: PackageFormat }
  | {
      key: string;
      format: PackageFormat;
      cached?: Manifest;
      decision: BuildDecision;
      tree: string;
      config: string;
      did?: string;
    };

type PackagesMsg =
  | { error: string }
  | { planned: true }
  | { nothing: true }
  | { key: string; manifest: Manifest; builderPath: string; localPath?: string };

export const kernelBuildStep = defineStep<KernelBuildArgs>()({
  name: 'kernel_build',
  description:
    'Builds the kernel once per cluster on the build host as a package (make bindeb-pkg / binrpm-pkg), cached under a key of source revision, merged .config and patches; installs it on every node (dpkg -i / rpm -i) and makes it the default boot entry. No rebuild and no reinstall while the key is unchanged. Takes effect after a reboot.',
  argsSchema: {
    type: 'object',
    required: ['source'],
    additionalProperties: false,
    properties: {
      source: kernelSourceSchema,
      patches: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        description:
          "Patch files (relative to the playbook's folder) applied with patch -p1 --fuzz=0 (no fuzz: a patch for another tree fails instead of landing in the wrong place), in order, to the build's copy of the source (e.g. the HOW-TO's WasActive patch).",
      },
      config: {
        type: 'string',
        pattern: '^/',
        description:
          "The merged .config on the build host (default: the source tree's .config, as the kconfig step leaves it).",
      },
      build_host: buildHostSchema,
      cache_dir: {
        type: 'string',
        pattern: '^/',
        description: `Build cache on the build host, and where nodes keep the package (default ${DEFAULT_CACHE_DIR}); a build lives in <cache_dir>/<key>/.`,
      },
      control_cache_dir: {
        type: 'string',
        pattern: '^/',
        description: `Where the control machine keeps the packages it hands to the nodes (default ${DEFAULT_CACHE_DIR}).`,
      },
      jobs: { type: 'integer', minimum: 1, description: "make -j value (default: the build host's nproc)." },
      build_timeout_s: {
        type: 'number',
        exclusiveMinimum: 0,
        description: 'Stop the build after this many seconds (default 21600).',
      },
      progress_s: {
        type: 'number',
        exclusiveMinimum: 0,
        description: 'Seconds between progress lines of a running build (default 30).',
      },
    },
  },
  async checkApply(args, ctx) {
    const src = parseKernelSource(args.source);
    const role = resolveBuildHost(ctx, args.build_host);
    const cacheDir = strip(args.cache_dir ?? DEFAULT_CACHE_DIR);
    const controlCache = strip(args.control_cache_dir ?? DEFAULT_CACHE_DIR);
    const exchange: Exchange = (key, value) =>
      ctx.cluster ? ctx.cluster.exchange(key, value) : Promise.resolve(new Map([[ctx.host, value]]));

    // 1. nodes
    let me: NodeReading | undefined;
    let readErr: unknown;
    try {
      me = await readNode(ctx.t, ctx.timeoutMs);
    } catch (e) {
      readErr = e;
    }
    const nodes = await exchange<NodeKernel | null>(
      'nodes',
      me ? { host: ctx.host, family: ctx.facts.os_family, installed: me.installed } : null,
    );
    if (readErr) throw readErr;

    // 2. plan (build host)
    const p = await buildHostRound<PlanMsg>(role, exchange, 'plan', () =>
      makePlan(
        args,
        ctx,
        role,
        src,
        cacheDir,
        [...nodes.values()].filter((n): n is NodeKernel => !!n),
      ),
    );
    if (!p)
      throw new Error(
        `the kernel build host ${role.label} failed before planning the build (see its error); nothing was changed on ${ctx.host}`,
      );
    if ('error' in p)
      throw new Error(
        `nothing was changed on ${ctx.host}: the kernel build on ${role.label} could not be planned: ${firstLine(p.error)}`,
      );

    // 3. build and hand over the package (build host)
    const q = await buildHostRound<PackagesMsg>(role, exchange, 'packages', () =>
      buildAndShare(args, ctx, role, cacheDir, controlCache, p),
    );
    if (!q)
      throw new Error(`the kernel build host ${role.label} failed (see its error); nothing was changed on ${ctx.host}`);
    if ('error' in q) throw new Error(`nothing was changed on ${ctx.host}: ${firstLine(q.error)}`);

    return convergeNode(ctx, role, src, cacheDir, me!, p, q);
  },
});

type Exchange = <T>(key: string, value: T) => Promise<Map<string, T>>;

/** One round of the build host's work: it runs work (a failure goes to every node as its
 *  error, and is thrown on the build host), every node gets the build host's answer;
 *  undefined when the build host sent none. */
async function buildHostRound<T extends object>(
  role: BuildHostRole,
  exchange: Exchange,
  key: string,
  work: () => Promise<T>,
): Promise<T | { error: string } | undefined> {
  let mine: T | { error: string } | null = null;
  let err: unknown;
  if (role.isActor) {
    try {
      mine = await work();
    } catch (e) {
      err = e;
      mine = { error: message(e) };
    }
  }
  const all = await exchange<T | { error: string } | null>(key, mine);
  if (err) throw err;
  return all.get(role.actor) ?? undefined;
}

const strip = (p: string) => p.replace(/\/+$/, '') || '/';
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
const firstLine = (s: string) => s.split('\n')[0];

async function loadPatches(list: string[] | undefined, baseDir: string): Promise<{ name: string; content: Buffer }[]> {
  return Promise.all(
    (list ?? []).map(async (p) => {
      const file = isAbsolute(p) ? p : join(baseDir, p);
      try {
        return { name: basename(p), content: await readFile(file) };
      } catch {
        throw new Error(`cannot read the patch ${file}: patch paths are relative to the playbook's folder`);
      }
    }),
  );
}

async function makePlan(
  args: KernelBuildArgs,
  ctx: StepContext,
  role: BuildHostRole,
  src: KernelSource,
  cacheDir: string,
  nodes: NodeKernel[],
): Promise<PlanMsg> {
  const t = role.t!;
  const format = packageFormat(new Map(nodes.map((n) => [n.host, n.family])));
  const patches = await loadPatches(args.patches, ctx.baseDir);
  const prep = await prepareSource(t, src, {
    cacheDir,
    apply: ctx.apply,
    revision: true,
    timeoutMs: ctx.timeoutMs,
    log: ctx.log,
  });
  if (!prep.tree) return { pending: prep.pending!, format };
  const config = args.config ?? `${prep.tree}/.config`;
  const st = await readFileState(t, config);
  if (!st.exists || st.isDir) {
    const fix = args.config
      ? 'give the path of a merged .config'
      : `run the kconfig step on the same source first, or give config`;
    if (!ctx.apply) return { pending: `${config} is written first (${fix})`, format };
    throw new Error(`no kernel config at ${config} on ${role.label}: ${fix}`);
  }
  const key = buildKey({ format, revision: prep.revision!, config: st.content!, patches });
  const cached = await readCachedManifest(t, `${cacheDir}/${key}`);
  return { key, format, cached, decision: decideBuild(key, !!cached, nodes), tree: prep.tree, config, did: prep.did };
}

async function buildAndShare(
  args: KernelBuildArgs,
  ctx: StepContext,
  role: BuildHostRole,
  cacheDir: string,
  controlCache: string,
  p: Exclude<PlanMsg, { error: string }>,
): Promise<PackagesMsg> {
  if (!ctx.apply || 'pending' in p) return { planned: true };
  const t = role.t!;
  const dir = `${cacheDir}/${p.key}`;
  let manifest = p.cached;
  if (!manifest && p.decision.build) {
    ctx.log(`building kernel ${p.key} on ${role.label} for ${p.decision.install.join(', ')}`);
    manifest = await runBuild({
      t,
      label: role.label,
      dir,
      key: p.key,
      tree: p.tree,
      config: p.config,
      format: p.format,
      patches: await loadPatches(args.patches, ctx.baseDir),
      jobs: args.jobs,
      timeoutMs: (args.build_timeout_s ?? 21_600) * 1000,
      progressMs: (args.progress_s ?? 30) * 1000,
      log: ctx.log,
    });
  }
  if (!manifest) return { nothing: true };
  const builderPath = `${dir}/${manifest.image.name}`;
  if (role.buildHost === 'control') return { key: p.key, manifest, builderPath, localPath: hostPath(t, builderPath) };
  if (!p.decision.install.some((h) => h !== role.buildHost)) return { key: p.key, manifest, builderPath };
  const localPath = `${controlCache}/${p.key}/${manifest.image.name}`;
  if (await pullFile(t, builderPath, localPath, manifest.image, ctx.log))
    ctx.log(`copied ${manifest.image.name} from ${role.label} to ${localPath} on the control machine`);
  return { key: p.key, manifest, builderPath, localPath };
}

async function convergeNode(
  ctx: StepContext,
  role: BuildHostRole,
  src: KernelSource,
  cacheDir: string,
  me: NodeReading,
  p: Exclude<PlanMsg, { error: string }>,
  q: Exclude<PackagesMsg, { error: string }>,
): Promise<Change> {
  const built = `${role.label}`;
  if ('pending' in p) {
    const first = role.isActor ? `${p.pending}; then ` : '';
    return {
      action: 'run',
      summary: `${first}build the kernel from ${sourceLabel(src)} on ${built} (bin${p.format}-pkg), install it on every node that lacks it and make it the default boot entry`,
      conditional: `the build key is known once this is done: ${p.pending}`,
      rebootRequired: true,
    };
  }
  const buildPart =
    role.isActor && p.decision.build
      ? `build kernel ${p.key} from ${sourceLabel(src)} on ${built} (make bin${p.format}-pkg)`
      : '';
  const fetched = role.isActor && p.did ? `${p.did}; ` : '';
  const needInstall = p.decision.install.includes(ctx.host);

  if (!needInstall) return keepInstalled(ctx, me, fetched, buildPart);

  const what = p.cached ? `kernel ${p.cached.release} (build ${p.key})` : `kernel build ${p.key}`;
  const from = ctx.host === role.buildHost ? '' : ` from ${built}`;
  const was = me.installed
    ? ` (replaces ${me.installed.release}, build ${me.installed.key})`
    : me.recorded
      ? ` (${KEY_FILE} names build ${me.recorded.key}, but /boot/vmlinuz-${me.recorded.release} is not installed any more)`
      : '';
  const summary = `${fetched}${buildPart ? `${buildPart}; ` : ''}install ${what}${from} and make it the default boot entry${was}`;
  const change: Change = { action: me.recorded ? 'update' : 'create', summary, rebootRequired: true };
  if (!ctx.apply || 'planned' in q) return change;
  if ('nothing' in q) throw new Error(`internal: no package for kernel build ${p.key} although ${ctx.host} needs it`);

  await installOnNode(ctx, role, src, cacheDir, q);
  return change;
}

/** The node has the kernel it needs: at most, make it the default boot entry. */
async function keepInstalled(ctx: StepContext, me: NodeReading, fetched: string, buildPart: string): Promise<Change> {
  const installed = me.installed!;
  const d = checkDefault(ctx.t, me, installed.release);
  const base = `kernel ${installed.release} (build ${installed.key}) installed`;
  if ('na' in d || d.ok) {
    if (buildPart) return { action: 'run', summary: `${fetched}${buildPart}; ${base} here` };
    return { action: 'none', summary: `${base}${'na' in d ? ` (${d.na})` : ', the default boot entry'}` };
  }
  if (ctx.apply) await makeDefault(ctx.t, installed.release, ctx.log);
  return {
    action: 'update',
    summary: `${fetched}${buildPart ? `${buildPart}; ` : ''}make kernel ${installed.release} the default boot entry (was ${d.was})`,
    rebootRequired: true,
  };
}

/** Copies the package to the node (unless it was built there), installs it, makes it the
 *  default boot entry and records the build key. */
async function installOnNode(
  ctx: StepContext,
  role: BuildHostRole,
  src: KernelSource,
  cacheDir: string,
  q: Exclude<PackagesMsg, { error: string } | { planned: true } | { nothing: true }>,
): Promise<void> {
  const started = Date.now();
  const onNode = `${cacheDir}/${q.key}/${q.manifest.image.name}`;
  if (ctx.host !== role.buildHost) {
    if (!q.localPath)
      throw new Error(`internal: the package of kernel build ${q.key} was not copied to the control machine`);
    await pushFile(ctx.t, q.localPath, onNode, q.manifest.image, ctx.log);
  }
  ctx.log(`installing ${q.manifest.image.name}`);
  await installPackage(ctx.t, ctx.host === role.buildHost ? q.builderPath : onNode, q.manifest.format);
  const d = checkDefault(ctx.t, await readNode(ctx.t, ctx.timeoutMs), q.manifest.release);
  if ('ok' in d && !d.ok) await makeDefault(ctx.t, q.manifest.release, ctx.log);
  await writeFileAtomic(
    ctx.t,
    KEY_FILE,
    renderKeyFile({
      key: q.key,
      release: q.manifest.release,
      package: q.manifest.image.name,
      source: sourceLabel(src),
    }),
  );
  ctx.log(
    `kernel ${q.manifest.release} installed in ${formatDuration(Date.now() - started)}${'na' in d ? ` (${d.na})` : ', default boot entry set'}`,
  );
}
