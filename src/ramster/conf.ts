import type { LegacyCluster } from './model.ts';
import { formatConfErrors, parseRamsterConf } from './confparse.ts';

/**
 * /etc/ramster.conf for a cluster, in the HOW-TO's layout: the `cluster:` stanza first (the
 * ocfs2 parser looks stanzas up by name, so order is free; ocfs2-tools itself writes it last),
 * then one `node:` stanza per node by number. One tab before each attribute, a blank line
 * between stanzas, LF endings, a final newline: byte-identical on every node.
 */
export function renderRamsterConf(cluster: LegacyCluster): string {
  const nodes = [...cluster.nodes].sort((a, b) => a.number - b.number);
  const stanza = (header: string, attrs: [string, string | number][]) =>
    [`${header}:`, ...attrs.map(([k, v]) => `\t${k} = ${v}`)].join('\n');
  const text = `${[
    stanza('cluster', [
      ['name', cluster.name],
      ['node_count', nodes.length],
    ]),
    ...nodes.map((n) =>
      stanza('node', [
        ['name', n.hostname],
        ['cluster', cluster.name],
        ['number', n.number],
        ['ip_address', n.clusterAddress],
        ['ip_port', cluster.ramster.port],
      ]),
    ),
  ].join('\n\n')}\n`;

  // The inventory is validated earlier; this guards against writing a file the node's own
  // `ramster-ctl check` would refuse.
  const parsed = parseRamsterConf(text);
  if (!parsed.ok) {
    throw new Error(
      `cluster '${cluster.name}' does not make a valid ramster.conf:\n${formatConfErrors('ramster.conf', parsed.errors)}`,
    );
  }
  return text;
}
