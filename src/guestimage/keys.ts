import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './command.ts';

export interface KeyPair {
  /** Private key path. */
  path: string;
  /** Public key line (`ssh-ed25519 AAAA… comment`). */
  publicKey: string;
}

/** Generates an ed25519 key pair at `path` unless one is already there. */
export async function ensureKeyPair(path: string, comment: string): Promise<KeyPair> {
  if (!existsSync(path) || !existsSync(`${path}.pub`)) {
    // Generate beside the target and rename, so a concurrent reader never sees half a pair.
    const tmp = `${path}.tmp${process.pid}`;
    rmSync(tmp, { force: true });
    rmSync(`${tmp}.pub`, { force: true });
    await runCommand(
      'ssh-keygen',
      ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', tmp],
      `ssh-keygen for ${comment}`,
    );
    renameSync(`${tmp}.pub`, `${path}.pub`);
    renameSync(tmp, path);
  }
  return { path, publicKey: readFileSync(`${path}.pub`, 'utf8').trim() };
}

/** The lab's client key pair: root's authorized key in every guest image. */
export function ensureLabKey(cacheDir: string): Promise<KeyPair> {
  return ensureKeyPair(join(cacheDir, 'lab_ed25519'), 'ramster-provision-lab');
}
