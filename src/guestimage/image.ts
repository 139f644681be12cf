import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { runCommand } from './command.ts';
import { ToolError } from './errors.ts';
import { ensureLabKey, type KeyPair } from './keys.ts';
import { describeMmdebstrap, mmdebstrapLine, newMmdebstrapProgress } from './mmdebstrap-progress.ts';
import { HOST_APT_SOURCES, REPO_ROOT } from './paths.ts';
import { pidAlive } from './process.ts';
import { timed, type Reporter } from './progress.ts';
import {
  customizeScript,
  type Distro,
  diskScript,
  imagePackages,
  mmdebstrapArgs,
  type ImageFlavour,
} from './recipe.ts';
import { suiteSources } from './sources.ts';

/** Which image: the init flavour and the Debian release. */
export interface ImageKind {
  flavour: ImageFlavour;
  distro: Distro;
}
export const DEFAULT_IMAGE: ImageKind = { flavour: 'systemd', distro: 'bookworm' };
const describeKind = (k: ImageKind) => (k.distro === 'bookworm' ? k.flavour : `${k.flavour}, ${k.distro}`);

export interface LabImage {
  /** The raw disk every guest overlay is backed by (never written after the build). */
  path: string;
  hash: string;
  key: KeyPair;
  /** True when this call built the image, false when it came from the cache. */
  built: boolean;
  buildMs?: number;
}

/** The recipe's source text: src/guestimage/recipe.ts in a clone, whether the CLI runs from src/ or from
 *  dist/ (so both use one cached image), else the compiled recipe.js beside this module (an
 *  installed package ships dist/ only). */
function recipeSourceFile(): string {
  const candidates = [
    join(REPO_ROOT, 'src/guestimage/recipe.ts'),
    fileURLToPath(new URL('./recipe.js', import.meta.url)),
  ];
  const found = candidates.find((f) => existsSync(f));
  if (!found)
    throw new ToolError(
      `the lab's image recipe is missing (looked for ${candidates.join(', ')})`,
      'reinstall ramster-provision',
    );
  return found;
}

/** Cache key: the recipe's source text, the flavour, the release and the key baked into the image. */
export function imageHash(publicKey: string, kind: ImageKind = DEFAULT_IMAGE): string {
  const h = createHash('sha256').update(readFileSync(recipeSourceFile())).update(publicKey);
  if (kind.flavour !== 'systemd') h.update(`flavour ${kind.flavour}`);
  if (kind.distro !== 'bookworm') h.update(`distro ${kind.distro}`);
  return h.digest('hex').slice(0, 16);
}

export function hostSourcesFile(): string {
  const found = HOST_APT_SOURCES.find((f) => existsSync(f));
  if (!found) {
    throw new ToolError(
      `no apt sources file on this machine (looked for ${HOST_APT_SOURCES.join(', ')})`,
      'the lab builds its Debian image from the same mirror apt uses here: configure apt first',
    );
  }
  return found;
}

/** The sources mmdebstrap reads: this machine's own for its release (bookworm), else a file in
 *  `work` naming the same mirror with the other suite. */
function sourcesFor(distro: Distro, work: string): string {
  const host = hostSourcesFile();
  if (distro === 'bookworm') return host;
  const file = join(work, `${distro}.sources`);
  writeFileSync(file, suiteSources(readFileSync(host, 'utf8'), host, distro));
  return file;
}

/** Returns the cached image for the current recipe, building it first when it is missing. */
export async function ensureImage(cacheDir: string, r: Reporter, kind: ImageKind = DEFAULT_IMAGE): Promise<LabImage> {
  mkdirSync(cacheDir, { recursive: true });
  const key = await ensureLabKey(cacheDir);
  const hash = imageHash(key.publicKey, kind);
  const imageDir = join(cacheDir, 'images', hash);
  const disk = join(imageDir, 'disk.raw');
  if (existsSync(join(imageDir, 'complete'))) {
    r.log(`image: using cached ${disk}`);
    return { path: disk, hash, key, built: false };
  }
  const release = await acquireLock(join(cacheDir, 'build.lock'), r);
  try {
    if (existsSync(join(imageDir, 'complete'))) return { path: disk, hash, key, built: false };
    const start = Date.now();
    r.log(coldBuildNotice(cacheDir, imageDir));
    await build(cacheDir, imageDir, key, r, kind);
    const buildMs = Date.now() - start;
    writeFileSync(
      join(imageDir, 'recipe.json'),
      `${JSON.stringify({ hash, ...kind, packages: imagePackages(kind.flavour), builtAt: new Date().toISOString(), buildSeconds: buildMs / 1000 }, null, 2)}\n`,
    );
    writeFileSync(join(imageDir, 'complete'), '');
    pruneOldImages(cacheDir, hash, kind, r);
    return { path: disk, hash, key, built: true, buildMs };
  } finally {
    release();
  }
}

async function build(cacheDir: string, imageDir: string, key: KeyPair, r: Reporter, kind: ImageKind): Promise<void> {
  const { flavour, distro } = kind;
  const work = join(cacheDir, `build.${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const rootfs = join(work, 'rootfs');
  const customizeFile = join(work, 'customize.sh');
  writeFileSync(join(work, 'authorized_keys'), `${key.publicKey}\n`);
  writeFileSync(customizeFile, customizeScript(join(work, 'authorized_keys'), flavour));
  try {
    const mm = newMmdebstrapProgress();
    // --verbose: apt's and dpkg's lines, counted into the progress (the image does not change).
    // The time limits only catch a hang: 21 min of mmdebstrap were seen at load 10.
    await timed(r, `image: mmdebstrap (Debian root filesystem, ${describeKind(kind)})`, (update) =>
      runCommand(
        'mmdebstrap',
        [
          '--verbose',
          ...mmdebstrapArgs({
            rootfs,
            hostSources: sourcesFor(distro, work),
            // One .deb cache per release: each build copies its cache into the chroot.
            debCache: join(cacheDir, distro === 'bookworm' ? 'debs' : `debs-${distro}`),
            customizeFile,
            flavour,
            distro,
          }),
        ],
        'mmdebstrap',
        {
          timeoutMs: 4 * 3600_000,
          onLine: (line) => {
            if (line.startsWith('I: ')) r.log(`image: mmdebstrap: ${line.slice(3)}`);
            if (mmdebstrapLine(mm, line)) update(describeMmdebstrap(mm));
          },
        },
      ),
    );
    const tmpDisk = join(work, 'disk.raw');
    await timed(r, 'image: disk (partition, ext4 from the rootfs, GRUB)', () =>
      runCommand('sh', ['-c', diskScript(rootfs, tmpDisk, flavour)], 'disk image', { timeoutMs: 3600_000 }),
    );
    mkdirSync(imageDir, { recursive: true });
    renameSync(tmpDisk, join(imageDir, 'disk.raw'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Said before a cold build: how long it takes and that it is done once. */
function coldBuildNotice(cacheDir: string, imageDir: string): string {
  const last = lastBuildSeconds(cacheDir);
  return (
    'image: building the guest image (once: cold, 3-5 min on an idle 2-core machine, 20-30 min under heavy load' +
    `${last ? `; the last build here took ${Math.round(last / 60)} min` : ''}). ` +
    `It is cached in ${imageDir} and reused until the recipe (src/guestimage/recipe.ts) changes; downloaded packages stay in ${join(cacheDir, 'debs')}`
  );
}

/** Build time of an earlier recipe's image still in the cache, if any. */
function lastBuildSeconds(cacheDir: string): number | undefined {
  const images = join(cacheDir, 'images');
  if (!existsSync(images)) return undefined;
  for (const hash of readdirSync(images)) {
    try {
      const seconds = (JSON.parse(readFileSync(join(images, hash, 'recipe.json'), 'utf8')) as { buildSeconds?: number })
        .buildSeconds;
      if (seconds) return seconds;
    } catch {
      // no finished build there
    }
  }
  return undefined;
}

/** One image build at a time per cache directory; a lock left by a dead process is taken over. */
export async function acquireLock(path: string, r: Reporter): Promise<() => void> {
  let announced = false;
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = Number(readFileSync(path, 'utf8').trim());
    if (!holder || !pidAlive(holder)) {
      rmSync(path, { force: true });
      continue;
    }
    if (!announced) r.log(`image: waiting for another build (pid ${holder}) to finish`);
    announced = true;
    await new Promise((res) => setTimeout(res, 2000));
  }
}

/** Images of older recipes of the same kind are dead weight (labs recreate their overlays on a
 *  new image), except while a running QEMU still reads one: those are kept. */
function pruneOldImages(cacheDir: string, keep: string, kind: ImageKind, r: Reporter): void {
  const imagesDir = join(cacheDir, 'images');
  const inUse = openFiles();
  for (const hash of readdirSync(imagesDir)) {
    const other = kindOf(join(imagesDir, hash));
    if (hash === keep || other.flavour !== kind.flavour || other.distro !== kind.distro) continue;
    const disk = join(imagesDir, hash, 'disk.raw');
    if (inUse.has(disk)) continue;
    rmSync(join(imagesDir, hash), { recursive: true, force: true });
    r.log(`image: removed the image of an older recipe (${hash})`);
  }
}

function kindOf(imageDir: string): ImageKind {
  try {
    const k = JSON.parse(readFileSync(join(imageDir, 'recipe.json'), 'utf8')) as Partial<ImageKind>;
    return { ...DEFAULT_IMAGE, ...k };
  } catch {
    return DEFAULT_IMAGE;
  }
}

function openFiles(): Set<string> {
  const files = new Set<string>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        files.add(readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch {
        // closed meanwhile
      }
    }
  }
  return files;
}
