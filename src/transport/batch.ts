import { randomBytes } from 'node:crypto';
import { framed, type FramedScript, type Frames } from '../frame.ts';
import type { ExecResult } from './types.ts';

/**
 * Several commands in ONE remote command (a batch of writes): the batch is a shell script fed
 * to `sh -s` on stdin, so its size is not bound by the command line. Each command runs in a
 * subshell of its own, exactly as it would alone, with its stdin from a here-document; the
 * first that fails stops the rest. Its output and exit code come back in a frame of its own
 * (src/frame.ts: `ran <index> <exit code>`, its output the body).
 */
export interface BatchedCommand {
  script: string;
  /** Its stdin: base64 text (the only stdin a here-document carries unchanged), or none. */
  stdin?: string;
}

/** The command that runs a batch: the batch script is its stdin. */
export const BATCH_RUNNER = 'exec sh -s';

/** Stopped (a step's timeout, an interrupt), the batch's shell lives on to read the output of
 *  the write being stopped (else that write, cleaning up its temp file, dies of SIGPIPE) and
 *  starts no further write. */
const ON_STOP = `trap 'rp_ok=0' TERM HUP INT`;

const BASE64_TEXT = /^[A-Za-z0-9+/=\n]*$/;

/** The batch script: `commands` in order, then `tail` (run whatever happened before it); its
 *  reader gives the frames parseBatch reads. */
export function batchScript(commands: BatchedCommand[], tail?: string): FramedScript {
  // `_` is no base64 character: no line of the data can end its here-document early
  const end = `RP_STDIN_${randomBytes(8).toString('hex')}`;
  const parts = [ON_STOP, 'rp_ok=1', ...commands.map((c, i) => batchedCommand(c, i, end))];
  if (tail !== undefined) parts.push(`( ${tail}\n) </dev/null >/dev/null 2>&1\nrp_frame tail "$?"`);
  return framed(`${parts.join('\n')}\n`);
}

/** One command, run only while every command before it succeeded: its output (stdout and
 *  stderr) is kept in rp_out and printed as the body of its frame, its exit code in the key. */
function batchedCommand(c: BatchedCommand, i: number, end: string): string {
  if (c.stdin !== undefined && !BASE64_TEXT.test(c.stdin))
    throw new Error('internal: a batched command takes base64 text on stdin');
  const input = c.stdin === undefined ? '</dev/null' : `<<'${end}'\n${wrap(c.stdin)}\n${end}`;
  return `if [ "$rp_ok" = 1 ]; then
rp_out=$( ( ${c.script}
) 2>&1 ${input}
)
rp_rc=$?
rp_frame ran ${i} "$rp_rc"; printf %s "$rp_out"
[ "$rp_rc" = 0 ] || rp_ok=0
fi`;
}

function wrap(b64: string): string {
  return (b64.replace(/\n/g, '').match(/.{1,76}/g) ?? []).join('\n');
}

export interface BatchOutcome {
  /** The result of each command that ran, by index (its output as its stderr). */
  ran: (ExecResult | undefined)[];
  /** The tail ran (to its end or not: its exit code is not judged). */
  tailRan: boolean;
}

/** Reads the frames of batchScript's output for `count` commands. */
export function parseBatch(frames: Frames, count: number): BatchOutcome {
  const ran: (ExecResult | undefined)[] = Array.from({ length: count }, () => undefined);
  for (const { key, body } of frames.all('ran')) {
    const m = /^(\d+) (\d+)$/.exec(key);
    if (m && Number(m[1]) < count) ran[Number(m[1])] = { code: Number(m[2]), stdout: '', stderr: body };
  }
  return { ran, tailRan: frames.has('tail') };
}
