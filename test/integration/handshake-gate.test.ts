import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_HANDSHAKES, openTransport } from '../../src/engine/connect.ts';
import { loadInventoryText } from '../../src/inventory/load.ts';
import { UnreachableError } from '../../src/transport/types.ts';
import { freePort, keygen } from '../helpers/sshd.ts';

// More hosts than MAX_HANDSHAKES, all connecting at once (as with a high --forks), to a real
// TCP server on loopback that accepts and never sends the SSH banner: a host whose handshake
// hangs. When the first host times out only MAX_HANDSHAKES have connected; the rest waited,
// and each still gets its own full connect timeout (its clock starts when it is let in).
let server: Server;
let port: number;
let open = 0;
const sockets: Socket[] = [];
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rp-gate-'));
  keygen('ed25519', join(dir, 'id'));
  port = await freePort();
  server = createServer((s) => {
    sockets.push(s);
    open++;
    s.on('close', () => open--);
    s.on('error', () => {});
    s.resume(); // read (and drop) what the client sends, so its close is seen
  });
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((ok) => server.close(ok));
  rmSync(dir, { recursive: true, force: true });
});

describe('SSH handshakes in flight', () => {
  it(`are at most MAX_HANDSHAKES (${MAX_HANDSHAKES}) whatever the forks; the hosts beyond wait, then time out on their own clock`, async () => {
    const hosts = MAX_HANDSHAKES + 6;
    const inv = loadInventoryText(
      join(dir, 'inventory.yaml'),
      `all:\n  hosts:\n${Array.from({ length: hosts }, (_, i) => `    h${i}: {address: 127.0.0.1, port: ${port}, identity: ${join(dir, 'id')}}\n`).join('')}`,
    );
    const timeoutMs = 3000;
    // How many hosts had connected when the first one timed out: the first wave only.
    let atFirstTimeout: number | undefined;
    const outcomes = await Promise.allSettled(
      [...inv.hosts.values()].map((h) =>
        openTransport(h, { acceptNewHostKeys: true, connectTimeoutMs: timeoutMs, knownHostsFile: '/dev/null' }).catch(
          (e: unknown) => {
            atFirstTimeout ??= sockets.length;
            throw e;
          },
        ),
      ),
    );
    const errors = outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error) : undefined));
    const bad = errors.filter((e) => !(e instanceof UnreachableError && /timed out after 3000 ms/.test(e.message)));
    expect(bad.map((e) => e?.message ?? 'connected')).toEqual([]);
    expect(atFirstTimeout).toBe(MAX_HANDSHAKES);
    expect(sockets.length).toBe(hosts);
    // and a timed-out handshake leaves no connection behind
    for (let i = 0; i < 50 && open > 0; i++) await new Promise((ok) => setTimeout(ok, 100));
    expect(open).toBe(0);
  });
});
