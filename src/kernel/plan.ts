import { createHash } from 'node:crypto';

/**
 * The pure half of kernel_build: the cache key of a build, what the build host keeps for it,
 * what a node records about the kernel it installed, and the decision (build? install on
 * which nodes? nothing?).
 */
export type PackageFormat = 'deb' | 'rpm';

export interface KeyInputs {
  format: PackageFormat;
  /** Source revision: `git <commit>`, `tarball <sha256>`, or a path tree's fingerprint. */
  revision: string;
  /** The merged .config the build starts from. */
  config: string | Buffer;
  /** Patches in the order they are applied. */
  patches: { name: string; content: string | Buffer }[];
}

const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

/** 16 hex digits of sha256(source revision, merged .config, patches, package format). The
 *  build host, architecture and toolchain are not part of it. */
export function buildKey(i: KeyInputs): string {
  const lines = [
    'ramster-provision kernel build v1',
    `format ${i.format}`,
    `source ${i.revision}`,
    `config ${sha256(i.config)}`,
    ...i.patches.map((p) => `patch ${sha256(p.content)} ${p.name}`),
  ];
  return sha256(lines.join('\n')).slice(0, 16);
}

export interface PackageFile {
  name: string;
  sha256: string;
  size: number;
}

/** `<cache_dir>/<key>/manifest`, written by the build script after a successful build. */
export interface Manifest {
  release: string;
  format: PackageFormat;
  /** The kernel image package: the one package installed on the nodes (headers and
   *  linux-libc-dev/kernel-headers stay in the cache: they would replace the distribution's). */
  image: PackageFile;
  files: PackageFile[];
}

/** A package file or kernel release name from the build host: one plain path component. The
 *  build host is not trusted: its names become paths on the controller and every node. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/;

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

/** Parses a build's manifest; undefined when it is incomplete, a ManifestError when it names
 *  a file or release that is not a plain name (`../x`, `/etc/x`, `-x`). */
export function parseManifest(text: string): Manifest | undefined {
  let release = '';
  let format = '';
  let image = '';
  const files: PackageFile[] = [];
  for (const line of text.split('\n')) {
    const [word, ...rest] = line.trim().split(/\s+/);
    if (word === 'release') release = rest[0] ?? '';
    else if (word === 'format') format = rest[0] ?? '';
    else if (word === 'image') image = rest[0] ?? '';
    else if (word === 'file' && rest.length === 3 && /^[0-9a-f]{64}$/.test(rest[0]))
      files.push({ sha256: rest[0], size: Number(rest[1]), name: rest[2] });
  }
  for (const [what, name] of [['release', release], ['image', image], ...files.map((f) => ['file', f.name])]) {
    if (name && !SAFE_NAME.test(name)) {
      throw new ManifestError(
        `the kernel build manifest names ${what} ${JSON.stringify(name)}, which is not a plain file name: refusing it (a build host must not choose paths on the controller or the nodes); remove the build's cache folder on the build host and build again`,
      );
    }
  }
  const img = files.find((f) => f.name === image);
  if (!release || (format !== 'deb' && format !== 'rpm') || !img) return undefined;
  return { release, format, image: img, files };
}

/** `/var/lib/ramster-provision/kernel.key` on a node: what it installed, from which build. */
export interface InstalledKernel {
  key: string;
  release: string;
  package: string;
}

export const KEY_FILE = '/var/lib/ramster-provision/kernel.key';

export function renderKeyFile(k: InstalledKernel & { source: string }): string {
  return `# Written by ramster-provision kernel_build: the kernel build installed on this node.\nkey=${k.key}\nrelease=${k.release}\npackage=${k.package}\nsource=${k.source}\n`;
}

export function parseKeyFile(text: string): InstalledKernel | undefined {
  const get = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(text)?.[1]?.trim();
  const key = get('key');
  const release = get('release');
  if (!key || !release) return undefined;
  return { key, release, package: get('package') ?? '' };
}

/** One node's kernel as read at the start of the step. */
export interface NodeKernel {
  host: string;
  family: string;
  /** The key file's build, only when its kernel is still installed (/boot/vmlinuz-<release>
   *  owned by a package). */
  installed?: InstalledKernel;
}

export interface BuildDecision {
  /** Build on the build host (no package for this key in its cache, and a node needs one). */
  build: boolean;
  /** Nodes that need the package installed. */
  install: string[];
}

/** No rebuild and no reinstall while the key is unchanged: a node needs the package when
 *  its installed key differs; the build runs only for such a node and only when the build
 *  host's cache has no package for the key. */
export function decideBuild(
  key: string,
  cached: boolean,
  nodes: Pick<NodeKernel, 'host' | 'installed'>[],
): BuildDecision {
  const install = nodes.filter((n) => n.installed?.key !== key).map((n) => n.host);
  return { build: !cached && install.length > 0, install };
}

/** Package format for the nodes' distribution family; one format per cluster. */
export function packageFormat(families: Map<string, string>): PackageFormat {
  const byFormat = new Map<PackageFormat, string[]>();
  for (const [host, family] of families) {
    const f: PackageFormat | undefined = family === 'debian' ? 'deb' : family === 'redhat' ? 'rpm' : undefined;
    if (!f)
      throw new Error(
        `${host} runs a ${family || 'unknown'} distribution: kernel_build makes Debian (bindeb-pkg) or Red Hat (binrpm-pkg) packages only`,
      );
    byFormat.set(f, [...(byFormat.get(f) ?? []), host]);
  }
  if (byFormat.size > 1) {
    throw new Error(
      `the cluster mixes distribution families (deb: ${byFormat.get('deb')!.join(', ')}; rpm: ${byFormat.get('rpm')!.join(', ')}): one kernel package cannot serve both; put them in separate clusters`,
    );
  }
  return [...byFormat.keys()][0] ?? 'deb';
}
