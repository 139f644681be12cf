import { isUtf8 } from 'node:buffer';
import { constants, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Diagnostic } from './diagnostics.ts';

/** Largest inventory or playbook read, so a wrong path (a disk image, a log) fails at once.
 *  8 MiB is about 60,000 hosts; loading 5 MB takes about 1.3 s (npm run bench:load). */
export const MAX_INPUT_BYTES = 8 * 1024 * 1024;

/** The file's text, when it is a regular file of at most MAX_INPUT_BYTES that is valid UTF-8. */
export async function readInputFile(file: string): Promise<{ text: string } | { error: Diagnostic }> {
  const fail = (message: string, hint: string, line = 1, col = 1) => ({ error: { file, line, col, message, hint } });
  const notReadable = (e: unknown) => {
    const code = (e as NodeJS.ErrnoException).code;
    return fail(
      code === 'ENOENT' ? 'file not found' : `cannot read file (${code})`,
      'check the path given on the command line',
    );
  };
  let info: Stats;
  try {
    info = await stat(file);
  } catch (e) {
    return notReadable(e);
  }
  // Checked before opening: opening a FIFO waits for a writer, and /dev/zero never ends.
  const refusal = refuse(info);
  if (refusal) return fail(refusal.message, refusal.hint);
  let bytes: Buffer;
  try {
    const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const again = refuse(await handle.stat());
      if (again) return fail(again.message, again.hint);
      bytes = await readAtMost(handle, MAX_INPUT_BYTES + 1, info.size);
    } finally {
      await handle.close();
    }
  } catch (e) {
    return notReadable(e);
  }
  if (bytes.length > MAX_INPUT_BYTES) return fail(tooLarge(), TOO_LARGE_HINT);
  if (isUtf8(bytes)) return { text: bytes.toString('utf8') };
  const bad = firstInvalidUtf8(bytes);
  const lineStart = bytes.lastIndexOf(0x0a, bad - 1) + 1;
  const line = countNewlines(bytes, bad) + 1;
  const col = bytes.subarray(lineStart, bad).toString('utf8').length + 1;
  return fail(
    `byte 0x${bytes[bad].toString(16).toUpperCase().padStart(2, '0')} here is not UTF-8 text`,
    'save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 FILE > FILE.utf8`, or remove the character',
    line,
    col,
  );
}

const TOO_LARGE_HINT = `an inventory or playbook may be at most ${MAX_INPUT_BYTES / 1024 / 1024} MiB: check that the path names the right file, or split the hosts into several inventories`;

/** What is wrong with a file over the cap (its size when stat knew it). */
function tooLarge(size?: number): string {
  const cap = `${MAX_INPUT_BYTES / 1024 / 1024} MiB`;
  return size === undefined
    ? `the file is larger than ${cap}, the most an input file may be`
    : `the file is ${(size / 1024 / 1024).toFixed(1)} MiB, larger than ${cap}, the most an input file may be`;
}

function refuse(info: Stats): { message: string; hint: string } | undefined {
  if (!info.isFile()) {
    const kind = info.isDirectory()
      ? 'a directory'
      : info.isFIFO()
        ? 'a named pipe (FIFO)'
        : info.isCharacterDevice()
          ? 'a character device'
          : info.isBlockDevice()
            ? 'a block device'
            : info.isSocket()
              ? 'a socket'
              : 'not a file';
    return {
      message: `this is ${kind}, not a regular file`,
      hint: 'give the path of a YAML file: devices, pipes and directories are never read',
    };
  }
  if (info.size > MAX_INPUT_BYTES) return { message: tooLarge(info.size), hint: TOO_LARGE_HINT };
  return undefined;
}

/** At most `limit` bytes, in one buffer sized for the `expected` bytes stat saw (plus one, to
 *  see the end), grown only when the file grew meanwhile. */
async function readAtMost(handle: Awaited<ReturnType<typeof open>>, limit: number, expected: number): Promise<Buffer> {
  let buffer = Buffer.allocUnsafe(Math.min(expected + 1, limit));
  let total = 0;
  while (total < limit) {
    if (total === buffer.length) buffer = Buffer.concat([buffer], Math.min(2 * buffer.length, limit));
    const { bytesRead } = await handle.read(buffer, total, buffer.length - total, null);
    if (bytesRead === 0) break;
    total += bytesRead;
  }
  return buffer.subarray(0, total);
}

/** Offset of the first byte that does not start a valid UTF-8 sequence. */
function firstInvalidUtf8(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length) {
    const c = bytes[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    const length = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (length === 0 || !isUtf8(bytes.subarray(i, i + length)) || i + length > bytes.length) return i;
    i += length;
  }
  return bytes.length - 1;
}

function countNewlines(bytes: Buffer, end: number): number {
  let n = 0;
  for (let i = bytes.indexOf(0x0a); i >= 0 && i < end; i = bytes.indexOf(0x0a, i + 1)) n++;
  return n;
}
