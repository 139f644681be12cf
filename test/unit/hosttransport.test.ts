import { describe, expect, it } from 'vitest';
import { HostTransport } from '../../src/engine/hosttransport.ts';
import { LocalTransport } from '../../src/transport/local.ts';
import { isReconnectable, type ExecOptions, type Transport } from '../../src/transport/types.ts';

describe("the engine's host transport", () => {
  it('keeps the capabilities of the transport it wraps: reconnect (the reboot step needs it) only where there is one', async () => {
    // A fake SSH-like transport (unit test only): it records what reaches it.
    const calls: string[] = [];
    const sshLike: Transport = {
      kind: 'ssh',
      target: 'root@host:22',
      root: '',
      roundTrips: 0,
      exec: async (script: string, opts?: ExecOptions) => {
        calls.push(`exec ${script} ${opts?.timeoutMs}`);
        return { code: 0, stdout: '', stderr: '' };
      },
      reconnect: async (o) => {
        calls.push(`reconnect ${o.timeoutMs}`);
      },
      close: async () => {},
    };
    const wrapped = new HostTransport(sshLike).withTimeout(5000);
    expect(isReconnectable(wrapped)).toBe(true);
    await wrapped.reconnect!({ timeoutMs: 60_000, connectTimeoutMs: 10_000 });
    await wrapped.exec('true', { touches: [] });
    expect(calls).toEqual(['reconnect 60000', 'exec true 5000']);
    expect(isReconnectable(new HostTransport(new LocalTransport('')))).toBe(false);
  });
});
