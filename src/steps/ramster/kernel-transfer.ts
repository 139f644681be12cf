import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hostPath, type Transport } from '../../transport/types.ts';
import { commandFailed, shq } from '../../shell.ts';

/**
 * Package files between the control machine and a host, through the host's transport only
 * (base64 over exec, in 8 MiB pieces so a 60 MB kernel package never sits in memory whole),
 * each verified by sha256 and renamed into place, so an interrupted copy leaves nothing half
 * written behind.
 */
const CHUNK_MIB = 8;
const CHUNK = CHUNK_MIB << 20;

async function sh(t: Transport, script: string, what: string, stdin?: string, timeoutMs = 600_000): Promise<string> {
  const r = await t.exec(script, { stdin, timeoutMs });
  if (r.code !== 0) throw new Error(commandFailed(what, r, { on: t.target, lines: 5 }));
  return r.stdout;
}

export async function localSha256(path: string): Promise<string | undefined> {
  try {
    const h = createHash('sha256');
    for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
    return h.digest('hex');
  } catch {
    return undefined;
  }
}

/** Copies `remote` (a host path) to the local `local`; false when it was already there. */
export async function pullFile(
  t: Transport,
  remote: string,
  local: string,
  file: { sha256: string; size: number },
  log?: (l: string) => void,
): Promise<boolean> {
  if ((await localSha256(local)) === file.sha256) return false;
  await mkdir(dirname(local), { recursive: true });
  const partial = `${local}.partial`;
  const fh = await open(partial, 'w');
  const src = shq(hostPath(t, remote));
  try {
    const chunks = Math.max(1, Math.ceil(file.size / CHUNK));
    for (let i = 0; i < chunks; i++) {
      const b64 = await sh(
        t,
        `dd if=${src} bs=1M skip=${i * CHUNK_MIB} count=${CHUNK_MIB} 2>/dev/null | base64 -w0`,
        `reading ${remote}`,
      );
      await fh.write(Buffer.from(b64.trim(), 'base64'));
      if (chunks > 1)
        log?.(`copying ${remote} from ${t.target}: ${Math.min(100, Math.round(((i + 1) / chunks) * 100))}%`);
    }
  } finally {
    await fh.close();
  }
  const got = await localSha256(partial);
  if (got !== file.sha256) {
    await rm(partial, { force: true });
    throw new Error(`copy of ${remote} from ${t.target} is corrupt (sha256 ${got}, expected ${file.sha256})`);
  }
  await rename(partial, local);
  return true;
}

/** Copies the local `local` to `remote` (a host path); false when it was already there. */
export async function pushFile(
  t: Transport,
  local: string,
  remote: string,
  file: { sha256: string; size: number },
  log?: (l: string) => void,
): Promise<boolean> {
  const dst = shq(hostPath(t, remote));
  const have = await sh(t, `if [ -f ${dst} ]; then sha256sum < ${dst} | cut -d' ' -f1; fi`, `checking ${remote}`);
  if (have.trim() === file.sha256) return false;
  const tmp = shq(`${hostPath(t, remote)}.partial`);
  await sh(t, `mkdir -p "$(dirname ${dst})" && : > ${tmp}`, `creating ${remote}`);
  const fh = await open(local, 'r');
  try {
    const buf = Buffer.alloc(CHUNK);
    const chunks = Math.max(1, Math.ceil(file.size / CHUNK));
    for (let i = 0; i < chunks; i++) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, i * CHUNK);
      await sh(t, `base64 -d >> ${tmp}`, `writing ${remote}`, buf.subarray(0, bytesRead).toString('base64'));
      if (chunks > 1)
        log?.(`copying ${remote} to ${t.target}: ${Math.min(100, Math.round(((i + 1) / chunks) * 100))}%`);
    }
  } finally {
    await fh.close();
  }
  await sh(
    t,
    `got=$(sha256sum < ${tmp} | cut -d' ' -f1)
if [ "$got" != ${shq(file.sha256)} ]; then rm -f ${tmp}; echo "sha256 $got, expected ${file.sha256}" >&2; exit 1; fi
mv -f ${tmp} ${dst}`,
    `verifying the copy of ${remote}`,
  );
  return true;
}
