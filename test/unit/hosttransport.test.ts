import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HostTransport } from '../../src/engine/hosttransport.ts';
import { WriteQueue } from '../../src/engine/writebatch.ts';
import { readFileState, setAttributes, writeFileAtomic } from '../../src/transport/fileops.ts';
import { LocalTransport } from '../../src/transport/local.ts';
import { FileStateSnapshot } from '../../src/transport/snapshot.ts';
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

describe("the engine's host transport with a write queue", () => {
  it('queues writes (forgetting their paths in the snapshot at once) and sends them in one command before the next one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rp-hosttransport-'));
    try {
      const t = new LocalTransport(dir);
      const snapshot = new FileStateSnapshot();
      snapshot.add('/etc/a', { exists: false });
      const writes = new WriteQueue();
      const ht = new HostTransport(t, { snapshot, writes });
      await writeFileAtomic(ht, '/etc/a', 'a\n');
      await setAttributes(ht, '/etc/a', { mode: '0600' });
      expect(snapshot.get('/etc/a', true)).toBeUndefined();
      expect(existsSync(join(dir, 'etc/a'))).toBe(false);
      expect([t.roundTrips, writes.queued, writes.applied]).toEqual([0, 2, 0]);
      expect((await readFileState(ht, '/etc/a')).mode).toBe('0600'); // read live, after the batch
      expect([t.roundTrips, writes.applied]).toEqual([2, 2]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
