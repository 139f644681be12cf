/** Generated inventories of a given size, for `npm run bench:load` and its tests. */

export type InventoryShape = 'valid' | 'one-big-cluster';

/**
 * `valid`: clusters of 8 nodes, one group each, the group vars merged from the first group's
 * (`<<: *common`), so aliases and merge keys are exercised at every size.
 * `one-big-cluster`: every host in one cluster, so the loader reports "more than 8 nodes" and
 * a duplicate node number per host: the slowest case for the error paths.
 */
export function generateInventory(bytes: number, shape: InventoryShape): string {
  const lines = ['all:', '  vars:', '    user: root', '    become: false', '  children:'];
  let size = lines.join('\n').length;
  const push = (line: string) => {
    lines.push(line);
    size += line.length + 1;
  };
  for (let c = 0; size < bytes; c++) {
    const inOneCluster = shape === 'one-big-cluster';
    if (!inOneCluster || c === 0) {
      push(`    group${c}:`);
      push(`      ramster: {cluster: c${c}, topology: symmetric, port: 7777}`);
      push(
        c === 0
          ? '      vars: &common {rack: r0, tier: web, kernel_source: /usr/src/linux-3.10.108}'
          : `      vars: {<<: *common, rack: r${c}}`,
      );
      push('      hosts:');
    }
    for (let n = 0; n < 8 && size < bytes; n++) {
      const ip = `10.${(c >> 8) & 255}.${c & 255}.${n + 1}`;
      push(
        `        host${c}-${n}: {address: 192.0.${c % 250}.${n + 1}, cluster_address: ${ip}, number: ${n}, hostname: node${c}-${n}.example.com, note: "generated host ${c}/${n}"}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
