import { execa } from 'execa';
import { ToolError } from './errors.ts';
import { commandFailed } from '../shell.ts';

export interface CommandOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  /** Called with every output line (stdout and stderr) as it arrives. */
  onLine?: (line: string) => void;
}

/** Runs a host command; on failure throws a ToolError with the command's last output lines. */
export async function runCommand(
  file: string,
  args: string[],
  what: string,
  opts: CommandOptions = {},
): Promise<string> {
  const child = execa(file, args, {
    input: opts.input,
    timeout: opts.timeoutMs,
    reject: false,
    all: true,
    env: { LC_ALL: 'C' },
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
  });
  const tail: string[] = [];
  let pending = '';
  child.all?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      opts.onLine?.(line);
    }
  });
  const r = await child;
  if (r.timedOut) throw new ToolError(`${what} timed out after ${Math.round((opts.timeoutMs ?? 0) / 1000)} s`);
  if (r.exitCode !== 0) {
    throw new ToolError(
      commandFailed(
        what,
        { code: r.exitCode, signal: r.signal },
        { output: tail.length ? tail.join('\n') : String(r.all ?? ''), lines: 10 },
      ),
    );
  }
  return String(r.stdout ?? '');
}
