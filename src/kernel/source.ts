/**
 * Where the kernel source comes from, on the build host: a tree at a path (used in place:
 * the kconfig step writes its .config, the build works on a copy), a git URL + ref, or a
 * tarball (path or URL). Git and tarball sources are unpacked once into
 * `<cache_dir>/src/git-<commit>` / `<cache_dir>/src/tar-<sha256>`, which then serve as the
 * tree; their revision is the commit or the tarball's sha256.
 */
export type KernelSource =
  | { kind: 'path'; path: string }
  | { kind: 'git'; url: string; ref: string }
  | { kind: 'tarball'; location: string };

export type KernelSourceArg = string | { path?: string; git?: string; ref?: string; tarball?: string };

/** Git URLs of the transports git itself calls safe, never an option (`--upload-pack=...`) and
 *  never a host starting with `-` (ssh would read it as an option); no `ext::` or `fd::`. */
const GIT_URL =
  /^(?:(?:https?|git|ssh|git\+ssh):\/\/(?:[^@/\s]+@)?[A-Za-z0-9_[\]:.][^\s]*|[A-Za-z0-9_][A-Za-z0-9_.-]*@[A-Za-z0-9_][A-Za-z0-9_.-]*:[^\s]+|\/[^\s]*)$/;
/** A tag, branch or commit name: no option, no space, no `..`. */
const GIT_REF = /^(?!-)(?!.*\.\.)[A-Za-z0-9_./+@-]+$/;

export const kernelSourceSchema = {
  description:
    'Kernel source on the build host: a path (string, or {path}), {git: URL, ref: tag|branch|commit}, or {tarball: path or http(s) URL}. Git and tarball sources are unpacked once under <cache_dir>/src/.',
  oneOf: [
    { type: 'string', pattern: '^/', description: 'Absolute path of a kernel tree on the build host.' },
    {
      type: 'object',
      required: ['path'],
      additionalProperties: false,
      properties: {
        path: { type: 'string', pattern: '^/', description: 'Absolute path of a kernel tree on the build host.' },
      },
    },
    {
      type: 'object',
      required: ['git', 'ref'],
      additionalProperties: false,
      properties: {
        git: {
          type: 'string',
          pattern: GIT_URL.source,
          description:
            'Git URL the build host can fetch from: https://, http://, git://, ssh://, user@host:path, or an absolute path.',
        },
        ref: {
          type: 'string',
          pattern: GIT_REF.source,
          description: 'Tag, branch or commit to build (a branch is re-resolved every run).',
        },
      },
    },
    {
      type: 'object',
      required: ['tarball'],
      additionalProperties: false,
      properties: {
        tarball: {
          type: 'string',
          pattern: '^(/|https?://|ftp://)',
          description: 'Tarball path on the build host, or an http(s)/ftp URL it downloads once.',
        },
      },
    },
  ],
} as const;

const HINT =
  "give source as a path ('/usr/src/linux-3.10.108'), {git: URL, ref: v3.10.108} or {tarball: /srv/linux-3.10.108.tar.xz}";

/** The source arg after `{{ }}` interpolation (which the load-time schema check cannot see). */
export function parseKernelSource(v: unknown): KernelSource {
  if (typeof v === 'string') {
    if (!v.startsWith('/')) throw new Error(`kernel source "${v}" is not an absolute path; ${HINT}`);
    return { kind: 'path', path: v.replace(/\/+$/, '') || '/' };
  }
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new Error(`kernel source must be a path or an object; ${HINT}`);
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort().join(',');
  if (keys === 'path') return parseKernelSource(o.path);
  if (keys === 'git,ref' && typeof o.git === 'string' && o.git && typeof o.ref === 'string' && o.ref) {
    if (!GIT_REF.test(o.ref)) throw new Error(`git ref "${o.ref}" is not a tag, branch or commit name`);
    if (!GIT_URL.test(o.git))
      throw new Error(
        `git URL "${o.git}" is not an https://, http://, git://, ssh://, user@host:path URL or an absolute path`,
      );
    return { kind: 'git', url: o.git, ref: o.ref };
  }
  if (keys === 'tarball' && typeof o.tarball === 'string' && /^(\/|https?:\/\/|ftp:\/\/)/.test(o.tarball))
    return { kind: 'tarball', location: o.tarball };
  throw new Error(`kernel source ${JSON.stringify(v)} is not understood; ${HINT}`);
}

export function sourceLabel(s: KernelSource): string {
  return s.kind === 'path' ? s.path : s.kind === 'git' ? `${s.url} ${s.ref}` : s.location;
}
