import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkReferences } from '../engine/references.ts';
import type { EngineEvents } from '../engine/hostrun.ts';
import type { RunResult } from '../engine/result.ts';
import { runPlaybook, selectHosts } from '../engine/run.ts';
import { loadInventory } from '../inventory/load.ts';
import type { Inventory } from '../inventory/types.ts';
import { ImageError } from './errors.ts';
import { ensureLabKey } from '../guestimage/keys.ts';
import { labCacheDir } from '../guestimage/paths.ts';
import { pidAlive } from '../guestimage/process.ts';
import { GUEST_IMAGE_TOOLS, missingCommands, tools } from '../guestimage/prereqs.ts';
import { seconds, timed, type Reporter } from '../guestimage/progress.ts';
import { loadPlaybook } from '../playbook/load.ts';
import { makeRedactor } from '../redact.ts';
import { copyBaseRootfs } from './base.ts';
import { ImageChrootTransport } from './chroot.ts';
import { mountsUnder, removeTree, removeTreeOrWarn } from './cleanup.ts';
import { deferredSteps, type DeferredStep } from './deferred.ts';
import { checkFits, convertToQcow2, formatOf, newDiskLayout, writeRawDisk, type DiskFormat } from './disk.ts';
import { regenerateGrubCfg } from './grub.ts';
import { hostIdentity, hostKey, knownHostsLine, readAuthorizedKeys, writeIdentity } from './identity.ts';

export interface ImageBuildOptions {
  inventory: string;
  /** Inventory name of the host the image is for. */
  host: string;
  /** Disk image to write: *.qcow2, or *.raw / *.img. */
  output: string;
  /** Default: playbooks/site.yaml. */
  playbook?: string;
  /** root's authorized_keys; default: the lab's public key. */
  authorizedKeyFile?: string;
  /** Reuse this ed25519 private key as the SSH host key; default: a new one. */
  hostKeyFile?: string;
  clusterPrefix?: number;
  clusterMac?: string;
  sizeMb?: number;
  /** Lab cache (base root filesystem, .deb cache, lab key); default labCacheDir(). */
  cacheDir?: string;
  /** Run mmdebstrap again instead of using the cached base. */
  freshBase?: boolean;
  stepTimeoutMs?: number;
  log: (line: string) => void;
  /** Step-by-step progress of the playbook run. */
  events?: EngineEvents;
  signal?: AbortSignal;
}

export interface ImageInfo {
  host: string;
  hostname: string;
  output: string;
  format: DiskFormat;
  sizeBytes: number;
  /** Bytes the file really takes (a raw disk is sparse). */
  allocatedBytes: number;
  knownHosts: string;
  knownHostsLine: string;
  hostPublicKey: string;
  clusterAddress?: string;
  fsUuid: string;
  /** GRUB_CMDLINE_LINUX the generated grub.cfg boots with. */
  kernelCmdline: string[];
  baseBuilt: boolean;
  deferred: DeferredStep[];
  /** Seconds per part of the build. */
  timings: Record<string, number>;
}

/** The playbook's run result for the host, plus the image when it was written. */
export interface ImageBuildResult {
  run: RunResult;
  image?: ImageInfo;
  /** Why no image was written (the run failed, or a later part did). */
  error?: string;
}

export const SITE_PLAYBOOK = fileURLToPath(new URL('../../playbooks/site.yaml', import.meta.url));

async function checkTools(format: DiskFormat): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new ImageError(
      'image build needs root (mmdebstrap --mode=root, chroot, mounts)',
      'run it as root, e.g. with sudo',
    );
  const needed = [
    ...GUEST_IMAGE_TOOLS,
    ...tools('unshare', 'chroot'),
    ...(format === 'qcow2' ? tools('qemu-img') : []),
  ];
  const missing = await missingCommands(needed);
  if (missing.length) {
    throw new ImageError(
      `image build needs ${missing.map((m) => m.command).join(', ')}`,
      `apt-get install ${[...new Set(missing.map((m) => m.pkg))].join(' ')}`,
    );
  }
}

/** `node1.qcow2` -> `node1.known_hosts`, next to the image. */
export function knownHostsPathFor(output: string): string {
  return join(dirname(output), `${basename(output).replace(/\.(qcow2|raw|img)$/i, '')}.known_hosts`);
}

/** The inventory reduced to the one host, with the variables an image build needs. */
function imageInventory(inv: Inventory, host: string): Inventory {
  const h = inv.hosts.get(host);
  if (!h)
    throw new ImageError(`host ${host} is not in ${inv.file}`, `hosts there: ${[...inv.hosts.keys()].join(', ')}`);
  // An image cannot reboot: the cluster reboot handler is skipped (site.yaml honours it).
  return { ...inv, hosts: new Map([[host, { ...h, vars: { ...h.vars, ramster_reboot: false } }]]) };
}

/** Removes work directories of image builds whose process is gone. */
function removeStaleWork(root: string, log: (l: string) => void): void {
  if (!existsSync(root)) return;
  for (const entry of readdirSync(root)) {
    if (/^\d+$/.test(entry) && !pidAlive(Number(entry))) removeTreeOrWarn(join(root, entry), log);
  }
}

/** What a build works from, once the inputs are loaded and checked. */
interface BuildPlan {
  output: string;
  format: DiskFormat;
  knownHostsFile: string;
  cacheDir: string;
  fullInv: Inventory;
  /** The inventory reduced to the host. */
  inv: Inventory;
  pb: Awaited<ReturnType<typeof loadPlaybook>>;
  id: ReturnType<typeof hostIdentity>;
  layout: ReturnType<typeof newDiskLayout>;
}

/** One timed part of the build (its seconds go to timings[key]); refused once aborted. */
type Part = <T>(key: string, title: string, fn: (update: (m: string) => void) => Promise<T>) => Promise<T>;

/** Loads the inventory and playbook and checks everything a build needs before it starts. */
async function planBuild(opts: ImageBuildOptions): Promise<BuildPlan> {
  const output = resolve(opts.output);
  const format = formatOf(output);
  if (!existsSync(dirname(output)) || !statSync(dirname(output)).isDirectory())
    throw new ImageError(`the directory of ${output} does not exist`, 'create it first');
  const knownHostsFile = knownHostsPathFor(output);
  const cacheDir = resolve(opts.cacheDir ?? labCacheDir());

  const [fullInv, pb] = await Promise.all([
    loadInventory(opts.inventory),
    loadPlaybook(opts.playbook ?? SITE_PLAYBOOK),
  ]);
  const inv = imageInventory(fullInv, opts.host);
  const { playHosts, hosts } = selectHosts(inv, pb);
  if (!hosts.includes(opts.host))
    throw new ImageError(`no play of ${pb.file} runs on host ${opts.host}`, "check the plays' `hosts:` patterns");
  checkReferences(inv, pb, playHosts);
  await checkTools(format);

  const authorizedKeys = opts.authorizedKeyFile
    ? readAuthorizedKeys(opts.authorizedKeyFile)
    : `${(await ensureLabKey(cacheDir)).publicKey}\n`;
  const id = hostIdentity(fullInv, opts.host, {
    authorizedKeys,
    clusterPrefix: opts.clusterPrefix,
    clusterMac: opts.clusterMac,
  });
  const layout = newDiskLayout(opts.sizeMb);
  return { output, format, knownHostsFile, cacheDir, fullInv, inv, pb, id, layout };
}

/**
 * Bakes one inventory host into a bootable disk image: the lab's Debian root filesystem, the
 * host's identity, the playbook applied through the chroot transport (steps that need a
 * running kernel are deferred and listed), grub.cfg generated for the disk with the baked
 * boot parameters, then the disk. The image and its known_hosts file appear only complete,
 * renamed into place at the very end.
 */
export async function buildImage(opts: ImageBuildOptions): Promise<ImageBuildResult> {
  const started = Date.now();
  const r: Reporter = { log: opts.log };
  const plan = await planBuild(opts);
  const { output, knownHostsFile, cacheDir, id, pb } = plan;

  const workRoot = join(cacheDir, 'image-builds');
  removeStaleWork(workRoot, r.log);
  const work = join(workRoot, String(process.pid));
  const rootfs = join(work, 'rootfs');
  const tmpImage = join(dirname(output), `.${basename(output)}.tmp-${process.pid}`);
  const tmpKnown = join(dirname(knownHostsFile), `.${basename(knownHostsFile)}.tmp-${process.pid}`);
  const timings: Record<string, number> = {};
  const part = timedParts(r, timings, opts.signal);

  r.log(`image: ${opts.host} (${id.hostname}) from ${pb.file} -> ${output}`);
  if (removeTree(work).length)
    throw new ImageError(`${work} has mounts below it`, `unmount them (umount -R ${work}) first`);
  mkdirSync(work, { recursive: true });
  try {
    const key = await hostKey(work, id, opts.hostKeyFile);
    const baseStart = Date.now();
    const base = await copyBaseRootfs(cacheDir, rootfs, r, { fresh: opts.freshBase });
    timings.base = (Date.now() - baseStart) / 1000;

    await part(
      'identity',
      `identity of ${id.hostname} (hostname, SSH host key, cluster address, authorized_keys)`,
      () => writeIdentity(rootfs, id, key),
    );

    const applied = await applyInChroot(opts, plan, rootfs, part);
    const { run } = applied;
    if (!applied.deferred) return { run, error: applied.error };

    const grub = await writeDisk(plan, { rootfs, work, tmpImage }, part, r);

    const line = knownHostsLine(id, key);
    publish({ tmpKnown, knownHostsFile, tmpImage, output }, line, opts.signal);
    timings.total = (Date.now() - started) / 1000;
    r.log(`image: ${output} written in ${seconds(Date.now() - started)}`);
    return {
      run,
      image: {
        ...writtenImage(plan, opts.host, line, key.publicKey),
        kernelCmdline: grub.cmdline,
        baseBuilt: base.built,
        deferred: applied.deferred,
        timings,
      },
    };
  } finally {
    rmSync(tmpImage, { force: true });
    rmSync(tmpKnown, { force: true });
    removeTreeOrWarn(work, r.log);
  }
}

/** What the image written at plan.output is: its files, identity and disk. */
function writtenImage(
  plan: BuildPlan,
  host: string,
  line: string,
  hostPublicKey: string,
): Omit<ImageInfo, 'kernelCmdline' | 'baseBuilt' | 'deferred' | 'timings'> {
  const { output, id } = plan;
  return {
    host,
    hostname: id.hostname,
    output,
    format: plan.format,
    sizeBytes: statSync(output).size,
    allocatedBytes: statSync(output).blocks * 512,
    knownHosts: plan.knownHostsFile,
    knownHostsLine: line.trim(),
    hostPublicKey,
    clusterAddress: id.clusterAddress,
    fsUuid: plan.layout.fsUuid,
  };
}

/** The build's parts, each timed into timings and refused once the signal aborted. */
function timedParts(r: Reporter, timings: Record<string, number>, signal: AbortSignal | undefined): Part {
  return async (key, title, fn) => {
    if (signal?.aborted) throw new ImageError('interrupted: the image was not written');
    const t0 = Date.now();
    try {
      return await timed(r, `image: ${title}`, fn);
    } finally {
      timings[key] = (Date.now() - t0) / 1000;
    }
  };
}

/** Renames the known_hosts file, then the image, into place: both appear, or neither. */
function publish(
  paths: { tmpKnown: string; knownHostsFile: string; tmpImage: string; output: string },
  line: string,
  signal: AbortSignal | undefined,
): void {
  const { tmpKnown, knownHostsFile, tmpImage, output } = paths;
  writeFileSync(tmpKnown, line, { mode: 0o644 });
  if (signal?.aborted) throw new ImageError('interrupted: the image was not written');
  renameSync(tmpKnown, knownHostsFile);
  try {
    renameSync(tmpImage, output);
  } catch (e) {
    rmSync(knownHostsFile, { force: true });
    throw e;
  }
}

/** The playbook's run in the chroot, and the steps deferred to the first boot; no deferred
 *  list (an error instead) when the run was interrupted or failed. */
async function applyInChroot(
  opts: ImageBuildOptions,
  plan: BuildPlan,
  rootfs: string,
  part: Part,
): Promise<{ run: RunResult; deferred?: DeferredStep[]; error?: string }> {
  const { inv, pb, fullInv } = plan;
  const transport = new ImageChrootTransport(rootfs);
  const ignored = new Map<number, string[]>();
  let stepIndex = 0;
  const events: EngineEvents = {
    ...opts.events,
    stepEnd: (host, res) => {
      const verbs = transport.takeIgnored();
      if (verbs.length) ignored.set(stepIndex, verbs);
      stepIndex++;
      opts.events?.stepEnd?.(host, res);
    },
  };
  const redact = makeRedactor([...fullInv.secrets, ...pb.secrets]);
  const run = await part('playbook', `apply ${basename(pb.file)} in the chroot`, () =>
    runPlaybook(inv, pb, {
      apply: true,
      forks: 1,
      stepTimeoutMs: opts.stepTimeoutMs,
      connect: { acceptNewHostKeys: false, connectTimeoutMs: 10_000 },
      events,
      signal: opts.signal,
      open: async () => transport,
    }),
  ).then(redact);
  const hostRes = run.hosts[0];
  if (run.interrupted) return { run, error: 'interrupted: the image was not written' };
  if (hostRes.status === 'failed' || hostRes.status === 'unreachable') {
    return {
      run,
      error: `the playbook failed in the image, so no image was written: ${hostRes.error ?? 'see the failed step'}`,
    };
  }
  return { run, deferred: deferredSteps(hostRes, ignored) };
}

/** grub.cfg for the disk, then the disk at tmpImage (raw, or converted to qcow2); returns grub's result. */
async function writeDisk(
  plan: BuildPlan,
  paths: { rootfs: string; work: string; tmpImage: string },
  part: Part,
  r: Reporter,
): Promise<Awaited<ReturnType<typeof regenerateGrubCfg>>> {
  const { format, layout } = plan;
  const { rootfs, work, tmpImage } = paths;
  const grub = await part('grub', `grub.cfg for the disk (update-grub in the chroot, root=UUID=${layout.fsUuid})`, () =>
    regenerateGrubCfg(rootfs, work, layout),
  );
  r.log(`image: grub.cfg boots ${grub.entries[0].join(' ')}`);

  await checkFits(rootfs, layout);
  const raw = format === 'raw' ? tmpImage : join(work, 'disk.raw');
  await part('disk', `raw disk (${layout.sizeMb} MiB: partition, ext4 from the rootfs, GRUB)`, () =>
    writeRawDisk(rootfs, raw, layout),
  );
  // The rootfs is not needed any more: delete it while qemu-img converts.
  const dropRootfs = mountsUnder(rootfs).length ? Promise.resolve() : rm(rootfs, { recursive: true, force: true });
  try {
    if (format === 'qcow2') await part('convert', 'qcow2 (qemu-img convert)', () => convertToQcow2(raw, tmpImage));
  } finally {
    await dropRootfs.catch(() => undefined);
  }
  return grub;
}
