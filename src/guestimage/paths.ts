import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

/** Repository root (src/guestimage/ is two levels down). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** Where the built image, the warm .deb cache and the lab key pair live; CI reuses it. */
export function labCacheDir(): string {
  return process.env.RAMSTER_LAB_CACHE || '/var/cache/ramster-provision/lab';
}

export function defaultLabDir(): string {
  return join(REPO_ROOT, 'lab');
}

/** The host's apt sources, handed to mmdebstrap as its mirror so no mirror host is written down. */
export const HOST_APT_SOURCES = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'];
