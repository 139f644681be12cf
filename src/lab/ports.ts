import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that is free right now (QEMU binds it moments later). */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => {
      const port = sock.address().port;
      sock.close(() => resolve(port));
    });
  });
}

/** `count` distinct free ports of one kind. */
export async function freePorts(count: number, kind: 'tcp' | 'udp'): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await (kind === 'tcp' ? freeTcpPort() : freeUdpPort()));
  return [...ports];
}
