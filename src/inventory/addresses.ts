/** Why other nodes cannot reach a node at this dotted quad, or undefined when they can. */
export function unusableClusterAddress(ip: string, clusterSize: number): string | undefined {
  const a = Number(ip.slice(0, ip.indexOf('.')));
  if (a === 0)
    return ip === '0.0.0.0'
      ? 'the "any address" 0.0.0.0, which names no machine'
      : 'in 0.0.0.0/8 ("this network"), which no other machine can reach';
  if (ip === '255.255.255.255') return 'the broadcast address, which names no single machine';
  if (a >= 224 && a <= 239) return 'a multicast address (224.0.0.0/4), not the address of one machine';
  if (a >= 240) return 'in the reserved range 240.0.0.0/4, which machines do not use';
  if (a === 127 && clusterSize > 1)
    return 'a loopback address (127.0.0.0/8): every machine answers it itself, so the other nodes cannot reach this one there';
  return undefined;
}
