import { createConnection } from 'node:net';
import { LabError } from './errors.ts';

export interface QmpCommand {
  execute: string;
  arguments?: Record<string, unknown>;
}

/** Sends one command over a QEMU QMP unix socket (capabilities handshake included) and
 *  returns its `return` value; events arriving meanwhile are skipped. */
export function qmp(socket: string, cmd: QmpCommand | string, timeoutMs = 30_000): Promise<unknown> {
  const command: QmpCommand = typeof cmd === 'string' ? { execute: cmd } : cmd;
  return new Promise((resolve, reject) => {
    const conn = createConnection(socket);
    let buffer = '';
    let stage: 'greeting' | 'capabilities' | 'command' = 'greeting';
    let settled = false;
    const finish = (err: Error | undefined, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => finish(new LabError(`QMP ${command.execute} on ${socket} timed out`)), timeoutMs);
    conn.on('error', (e) => finish(new LabError(`QMP socket ${socket}: ${e.message}`)));
    conn.on('close', () => {
      // `quit` closes the socket right after (or instead of) answering.
      if (stage === 'command' && command.execute === 'quit') finish(undefined, {});
      else finish(new LabError(`QMP socket ${socket} closed before ${command.execute} answered`));
    });
    conn.on('data', (chunk) => {
      buffer += chunk.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        if ('event' in msg) continue;
        if (stage === 'greeting' && 'QMP' in msg) {
          stage = 'capabilities';
          conn.write(`${JSON.stringify({ execute: 'qmp_capabilities' })}\n`);
        } else if (stage === 'capabilities') {
          if ('error' in msg) return finish(new LabError(`QMP handshake failed: ${JSON.stringify(msg.error)}`));
          stage = 'command';
          conn.write(`${JSON.stringify(command)}\n`);
        } else if (stage === 'command') {
          if ('error' in msg) {
            const e = msg.error as { desc?: string };
            return finish(new LabError(`QMP ${command.execute} failed: ${e.desc ?? JSON.stringify(e)}`));
          }
          if ('return' in msg) return finish(undefined, msg.return);
        }
      }
    });
  });
}

/** Runs a human-monitor command (savevm, loadvm, …); HMP reports errors as text, so any
 *  output is treated as failure for the commands that print nothing on success. */
export async function hmp(socket: string, commandLine: string, timeoutMs = 120_000): Promise<string> {
  const out = await qmp(
    socket,
    { execute: 'human-monitor-command', arguments: { 'command-line': commandLine } },
    timeoutMs,
  );
  return typeof out === 'string' ? out : '';
}
