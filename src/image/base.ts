import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '../guestimage/command.ts';
import { ImageError } from './errors.ts';
import { acquireLock, hostSourcesFile, imageHash } from '../guestimage/image.ts';
import { timed, type Reporter } from '../guestimage/progress.ts';
import { customizeScript, mmdebstrapArgs } from '../guestimage/recipe.ts';
import { removeTree, removeTreeOrWarn } from './cleanup.ts';

/** Bump when what this file puts into the base changes (the lab recipe's text is hashed too). */
const BASE_VERSION = 1;

export interface BaseRootfs {
  /** Directory holding the base root filesystem (never written after it is complete). */
  dir: string;
  hash: string;
  /** This call ran mmdebstrap (false: the cached base was used). */
  built: boolean;
}

/**
 * The Debian root filesystem every node image starts from: the lab's own recipe (mmdebstrap
 * with this machine's apt sources and the warm .deb cache, kernel, GRUB files, initramfs,
 * networkd, sshd) without any key — host identity is added per image. Built once per recipe
 * and kept in the lab cache, so baking N node images runs mmdebstrap once.
 */
export function baseHash(): string {
  return imageHash(`ramster-provision image base v${BASE_VERSION}`);
}

/**
 * Copies the base into `dest` (which must not exist), building the base first when the cache
 * has none for the current recipe (or `fresh` asks for a new one). Holds the lab's build lock:
 * mmdebstrap runs share the .deb cache with lab image builds, and a base is never pruned while
 * it is being copied.
 */
export async function copyBaseRootfs(
  cacheDir: string,
  dest: string,
  r: Reporter,
  opts: { fresh?: boolean } = {},
): Promise<BaseRootfs> {
  mkdirSync(cacheDir, { recursive: true });
  const hash = baseHash();
  const baseDir = join(cacheDir, 'image-base', hash);
  const dir = join(baseDir, 'rootfs');
  const release = await acquireLock(join(cacheDir, 'build.lock'), r);
  try {
    let built = false;
    if (opts.fresh || !existsSync(join(baseDir, 'complete'))) {
      await buildBase(cacheDir, baseDir, r);
      built = true;
    } else {
      r.log(`image: using the cached base root filesystem ${dir}`);
    }
    await timed(r, 'image: copy the base root filesystem', () =>
      runCommand('cp', ['-a', '--reflink=auto', dir, dest], 'copying the base root filesystem', {
        timeoutMs: 20 * 60_000,
      }),
    );
    return { dir, hash, built };
  } finally {
    release();
  }
}

async function buildBase(cacheDir: string, baseDir: string, r: Reporter): Promise<void> {
  const work = join(cacheDir, 'image-base', `build.${process.pid}`);
  mustRemove(work);
  mkdirSync(work, { recursive: true });
  try {
    const rootfs = join(work, 'rootfs');
    const emptyKeys = join(work, 'authorized_keys');
    writeFileSync(emptyKeys, '');
    const customizeFile = join(work, 'customize.sh');
    writeFileSync(customizeFile, customizeScript(emptyKeys));
    await timed(r, 'image: mmdebstrap (Debian root filesystem, the lab recipe)', (update) =>
      runCommand(
        'mmdebstrap',
        mmdebstrapArgs({ rootfs, hostSources: hostSourcesFile(), debCache: join(cacheDir, 'debs'), customizeFile }),
        'mmdebstrap',
        {
          timeoutMs: 45 * 60_000,
          onLine: (line) => line.startsWith('I: ') && update(line.slice(3)),
        },
      ),
    );
    mustRemove(baseDir);
    mkdirSync(baseDir, { recursive: true });
    renameSync(rootfs, join(baseDir, 'rootfs'));
    writeFileSync(join(baseDir, 'complete'), '');
    pruneOtherBases(cacheDir, baseDir, r);
  } finally {
    removeTreeOrWarn(work, r.log);
  }
}

function mustRemove(dir: string): void {
  const blocked = removeTree(dir);
  if (blocked.length)
    throw new ImageError(
      `${dir} still has mounts below it (${blocked.join(', ')}), left by an interrupted build`,
      `unmount them (umount -R ${dir}/rootfs) and run the build again`,
    );
}

/** Bases of older recipes are dead weight (we hold the build lock: nobody copies them now). */
function pruneOtherBases(cacheDir: string, keep: string, r: Reporter): void {
  const root = join(cacheDir, 'image-base');
  for (const entry of readdirSync(root)) {
    const path = join(root, entry);
    if (path === keep || entry === `build.${process.pid}`) continue;
    // Under the lock no other build runs: `build.<pid>` directories are leftovers too.
    if (removeTree(path).length) r.log(`image: kept ${path}: something is still mounted below it`);
    else
      r.log(
        `image: removed ${entry.startsWith('build.') ? 'an interrupted base build' : 'the base root filesystem of an older recipe'} (${entry})`,
      );
  }
}
