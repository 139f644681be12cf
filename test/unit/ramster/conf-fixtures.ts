/** Expectations for test/fixtures/ramster-conf (shared by the parser and parity tests). */

/** Hostname each valid fixture is checked with, and the node it must find. */
export const validFixtures: Record<string, { hostname: string; local: string; nodes: number }> = {
  'howto-2node.conf': { hostname: 'system1', local: 'system1', nodes: 2 },
  'ram-server-3node.conf': { hostname: 'node2', local: 'node2', nodes: 3 },
  'eight-nodes.conf': { hostname: 'n7', local: 'n7', nodes: 8 },
  'comments.conf': { hostname: 'system2', local: 'system2', nodes: 2 },
  'header-trailing-blanks.conf': { hostname: 'system1', local: 'system1', nodes: 2 },
  'spaces-no-blanks-around-equals.conf': { hostname: 'system2', local: 'system2', nodes: 2 },
  'cluster-last.conf': { hostname: 'system1', local: 'system1', nodes: 2 },
  'fqdn-names.conf': { hostname: 'system2.example.com', local: 'system2.example.com', nodes: 2 },
  'no-final-newline.conf': { hostname: 'system1.example.com', local: 'system1', nodes: 2 },
  'several-blank-lines.conf': { hostname: 'system2', local: 'system2', nodes: 2 },
};

/** Every broken fixture: the hostname it is checked with, and an error it must produce. */
export const brokenFixtures: Record<string, { hostname?: string; line: number; message: RegExp }> = {
  'trailing-blank-number.conf': { line: 15, message: /^trailing blank after the value of 'number'$/ },
  'trailing-blank-port.conf': { line: 10, message: /^trailing blank after the value of 'ip_port'$/ },
  'crlf.conf': { line: 1, message: /carriage return \(CRLF/ },
  'indented-comment.conf': { line: 15, message: /^comment not in column 0$/ },
  'blank-line-in-stanza.conf': {
    line: 16,
    message: /^attribute after a blank line: the blank line at line 15 ended the 'node:' stanza$/,
  },
  'duplicate-number.conf': { line: 15, message: /^node number 0 is used twice \(first at line 8\)$/ },
  'duplicate-name.conf': { line: 13, message: /^node name 'system1' is used twice \(first at line 6\)$/ },
  'duplicate-address.conf': { line: 16, message: /^address '192\.168\.1\.10' is used twice \(first at line 9\)$/ },
  'no-local-node.conf': {
    hostname: 'system1.example.com',
    line: 1,
    message: /^no node is named 'system1\.example\.com' or 'system1'$/,
  },
  'two-local-nodes.conf': {
    hostname: 'system1.example.com',
    line: 13,
    message: /^node names 'system1' \(line 6\) and 'system1\.example\.com' both match/,
  },
  'missing-cluster.conf': { line: 1, message: /^no 'cluster:' stanza$/ },
  'two-clusters.conf': { line: 19, message: /^second 'cluster:' stanza \(first at line 1\)$/ },
  'wrong-node-count.conf': { line: 3, message: /^node_count is 3 but the file has 2 'node:' stanzas$/ },
  'missing-node-count.conf': { line: 1, message: /^'cluster:' stanza has no 'node_count'$/ },
  'number-too-big.conf': { line: 15, message: /^node number '8' is out of range 0-7$/ },
  'number-not-a-number.conf': { line: 15, message: /^node number 'one' is not a number$/ },
  'bad-ip.conf': { line: 16, message: /^'192\.168\.1\.300' is not an IPv4 address$/ },
  'ip-leading-zero.conf': { line: 16, message: /^'192\.168\.01\.11' is not an IPv4 address$/ },
  'port-out-of-range.conf': { line: 10, message: /^ip_port '65535' is out of range 1-65534$/ },
  'attribute-before-stanza.conf': { line: 1, message: /^attribute line before any stanza header$/ },
  'header-trailing-text.conf': { line: 12, message: /^text after stanza header 'node:'$/ },
  'header-without-colon.conf': { line: 12, message: /^malformed stanza header/ },
  'indented-header.conf': { line: 12, message: /^malformed attribute line/ },
  'missing-ip-port.conf': { line: 5, message: /^'node:' stanza has no 'ip_port'$/ },
  'cluster-name-mismatch.conf': {
    line: 14,
    message: /^node belongs to cluster 'Ramster' but the cluster is named 'ramster' \(names are case-sensitive\)$/,
  },
  'cluster-name-too-long.conf': { line: 2, message: /^cluster name 'ramster0123456789' is longer than 16 characters$/ },
  'cluster-name-with-dash.conf': { line: 2, message: /^cluster name 'ram-ster' must contain only letters and digits$/ },
  'unknown-stanza.conf': { line: 19, message: /^unknown stanza 'heartbeat:'$/ },
  'unknown-attribute.conf': { line: 16, message: /^unknown attribute 'ip_adress' in a 'node:' stanza$/ },
  'repeated-attribute.conf': {
    line: 16,
    message: /^attribute 'number' is set twice in this stanza \(first at line 15\)$/,
  },
  'backslash-continuation.conf': { line: 13, message: /^backslash in value/ },
  'empty.conf': { line: 1, message: /^no 'node:' stanzas$/ },
};
