/**
 * Classification of RAMster's kernel messages (ramster-kernel.md, "dmesg strings worth
 * classifying", and the HOW-TO's KNOWN PROBLEMS) for verify/status/doctor.
 */

export type DmesgClass = 'info' | 'harmless' | 'config-mismatch' | 'unrecoverable';

export interface DmesgFinding {
  /** Index of the line in the input. */
  index: number;
  line: string;
  class: DmesgClass;
  /** What the message means. */
  what: string;
  /** What to do; absent for info. */
  fix?: string;
  /** Node number the message is about, when it names one. */
  node?: number;
}

const SEVERITY: Record<DmesgClass, number> = { info: 0, harmless: 1, 'config-mismatch': 2, unrecoverable: 3 };

const REBOOT_FIX =
  'reboot all nodes at about the same time; make sure every node runs the same /etc/ramster.conf and timeouts and marks every node up within the idle timeout';

interface Rule {
  re: RegExp;
  classify: (m: RegExpExecArray, later: string[]) => Omit<DmesgFinding, 'index' | 'line'>;
}

// "%s (num %u) at %pI4:%u"
const NODE = String.raw`(\S+) \(num (\d+)\) at ([\d.]+):(\d+)`;

/** Does a later line show the node connected again? */
function reconnected(later: string[], node: number): boolean {
  const re = new RegExp(String.raw`(Accepted connection from|Connected to) node \S+ \(num ${node}\)`);
  return later.some((l) => re.test(l));
}

/** Is the call trace that follows a hung-task report waiting in r2net? */
function waitsOnR2net(later: string[]): boolean {
  const end = later.findIndex((l) => /blocked for more than/.test(l));
  return (end < 0 ? later.slice(0, 40) : later.slice(0, end)).some((l) => /r2net_send_message_vec/.test(l));
}

const RULES: Rule[] = [
  {
    re: /INFO: task (\S+) blocked for more than (\d+) seconds/,
    classify: (m, later) =>
      waitsOnR2net(later)
        ? {
            class: 'unrecoverable',
            what: `${m[1]} has waited ${m[2]} s for a RAMster node that does not answer (it crashed, or the network went down with pages still there: swap, or cleancache pages)`,
            fix: "look at the other node's console for an oops; at shutdown, swap must be off and nothing may read remote pages once the network is down",
          }
        : { class: 'info', what: `${m[1]} blocked for ${m[2]} s (not in RAMster's network code)` },
  },
  {
    re: /zcache_get fails on persistent pool/,
    classify: () => ({
      class: 'unrecoverable',
      what: 'a swapped page could not be taken back from zcache/RAMster, so the kernel read it from the swap device, where it never was: its process sees wrong data (seen when swapoff or the selfshrink worker ran out of memory with pages remote)',
      fix: 'reboot this node; before swapoff or a reboot, free memory so the remote pages fit in RAM (swapoff brings every page home)',
    }),
  },
  {
    re: /kernel BUG at (drivers\/staging\/zcache\/\S+?):(\d+)!/,
    classify: (m) => ({
      class: 'unrecoverable',
      what: m[1].endsWith('r2net.c')
        ? `r2net met a node no longer in the cluster (${m[1]}:${m[2]}): a node or the cluster was removed from configfs after pages went remote; the kernel is dead`
        : `RAMster/zcache hit a kernel BUG (${m[1]}:${m[2]}); the kernel is dead`,
      fix: m[1].endsWith('r2net.c')
        ? 'reboot; never remove a node or the cluster (configfs rmdir) once pages went remote: ramster-ctl stop refuses then, and keeps the cluster at shutdown'
        : 'reboot; keep the console log and the kernel build (see the patches in playbooks/patches/)',
    }),
  },
  {
    re: /uses a (network idle timeout|keepalive delay|heartbeat timeout) of (\d+) ms, but we use (\d+) ms locally/,
    classify: (m) => ({
      class: 'config-mismatch',
      what: `a node uses a ${m[1]} of ${m[2]} ms, this node ${m[3]} ms: the connection is dropped`,
      fix: 'set the same RAMSTER_IDLE_TIMEOUT_MS, RAMSTER_KEEPALIVE_DELAY_MS and RAMSTER_HEARTBEAT_THRESHOLD on every node before any node is marked up (configfs timeouts are fixed once peers connect: reboot to change them)',
      ...nodeOf(m.input),
    }),
  },
  {
    re: /Attempt to connect from unknown node at ([\d.]+):(\d+)/,
    classify: (m) => ({
      class: 'config-mismatch',
      what: `a connection came from ${m[1]}, which is no node's ip_address in this node's cluster`,
      fix: 'make /etc/ramster.conf identical on every node, with the addresses the nodes really connect from; then ramster-ctl stop/start (before node-up) or reboot',
    }),
  },
  {
    re: /node (\d+) not up, ignoring setting of remotification target/,
    classify: (m) => ({
      class: 'config-mismatch',
      what: `the remote target was written before node ${m[1]} was up, and ignored`,
      fix: `mark every node up first (ramster-ctl node-up on all nodes), then write ${m[1]} to /sys/kernel/mm/ramster/remote_target_nodenum again and read it back`,
      node: Number(m[1]),
    }),
  },
  {
    re: /bad num to node node_num=(-?\d+)/,
    classify: (m) => ({
      class: 'config-mismatch',
      what: `node number ${m[1]} was written to manual_node_up but is not a node of the configfs cluster`,
      fix: 'write only node numbers 0-7 that are in /etc/ramster.conf',
      node: Number(m[1]),
    }),
  },
  {
    re: /cluster not alive, node_up_manual ignored/,
    classify: () => ({
      class: 'unrecoverable',
      what: 'manual_node_up was written before the configfs cluster existed: the write was swallowed and the node-up flag is used up until reboot',
      fix: 'reboot this node; create the cluster (ramster-ctl start) before any write to manual_node_up',
    }),
  },
  {
    re: /No connection established with node (\d+) after (\d+)\.(\d+) seconds/,
    classify: (m) => ({
      class: 'unrecoverable',
      what: `node ${m[1]} did not connect within ${m[2]}.${m[3]} s: the kernel has given up on it for good`,
      fix: REBOOT_FIX,
      node: Number(m[1]),
    }),
  },
  {
    re: new RegExp(`No longer connected to node ${NODE}`),
    classify: (m, later) =>
      reconnected(later, Number(m[2]))
        ? {
            class: 'harmless',
            what: `node ${m[1]} (num ${m[2]}) disconnected, then connected again`,
            fix: 'nothing to do',
            node: Number(m[2]),
          }
        : {
            class: 'unrecoverable',
            what: `node ${m[1]} (num ${m[2]}) at ${m[3]}:${m[4]} is gone and has not come back; pages kept there may be lost (possibly unrecoverable)`,
            fix: REBOOT_FIX,
            node: Number(m[2]),
          },
  },
  {
    re: new RegExp(String.raw`Connection to node ${NODE} shutdown, state (\d+)`),
    classify: (m, later) =>
      reconnected(later, Number(m[2]))
        ? {
            class: 'harmless',
            what: `intermediate connection state ${m[5]} with node ${m[1]} (num ${m[2]}), followed by a connection`,
            fix: 'nothing to do',
            node: Number(m[2]),
          }
        : {
            class: 'unrecoverable',
            what: `the connection to node ${m[1]} (num ${m[2]}) shut down (state ${m[5]}) and no connection followed`,
            fix: REBOOT_FIX,
            node: Number(m[2]),
          },
  },
  {
    re: /ramster_r2net, message length problem/,
    classify: () => ({
      class: 'harmless',
      what: 'a node sent a compressed page larger than zcache accepts (known sender bug)',
      fix: 'nothing to do',
    }),
  },
  {
    re: /ramster: bad accounting for (\S+)/,
    classify: (m) => ({ class: 'harmless', what: `known counting bug (${m[1]}), Linux 3.4`, fix: 'nothing to do' }),
  },
  {
    re: new RegExp(`(Accepted connection from|Connected to) node ${NODE}`),
    classify: (m) => ({
      class: 'info',
      what: `connected with node ${m[2]} (num ${m[3]}, ${m[1] === 'Connected to' ? 'outgoing' : 'incoming'})`,
      node: Number(m[3]),
    }),
  },
  {
    re: /ramster: node (\d+) set as remotification target/,
    classify: (m) => ({ class: 'info', what: `node ${m[1]} is the remote target`, node: Number(m[1]) }),
  },
  {
    re: /zcache: using \S+ compressor|ramster: (cleancache|frontswap) enabled|ramster: (cleancache: ignorenonactive|frontswap: excl gets) = \d+|ramster: r2net handlers registered|Initializing frontswap selfshrink driver/,
    classify: (m) => ({ class: 'info', what: `startup: ${m[0]}` }),
  },
  {
    re: /(?:AUTO)?created (ephemeral|persistent) (?:local )?tmem pool,? id=(\d+)/,
    classify: (m) => ({ class: 'info', what: `zcache ${m[1]} pool ${m[2]} created` }),
  },
  {
    re: /(Kernel command line|Command line): (.*)/,
    classify: (m) => ({ class: 'info', what: `boot parameters: ${m[2].trim()}` }),
  },
];

function nodeOf(line: string): { node?: number } {
  const m = /\(num (\d+)\)/.exec(line);
  return m ? { node: Number(m[1]) } : {};
}

/** The vendor 3.10 tree logs every signal with both processes' names ("[pid:ramster-ctl] sig 17
 *  to [pid:ramster-ctl]"): a process name, not a RAMster message. */
export const VENDOR_SIGNAL_LINE = /\] sig \d+ to \[\d+:/;

/** Is this a line RAMster (or its o2net copy, r2net) wrote? */
function isRamsterLine(line: string): boolean {
  if (VENDOR_SIGNAL_LINE.test(line)) return false;
  return /ramster|zcache|r2net|remotification/i.test(line) || RULES.some((r) => r.re.test(line));
}

/** Every RAMster line of `dmesg` output, classified; other lines are left out. */
export function classifyDmesg(lines: string[]): DmesgFinding[] {
  const out: DmesgFinding[] = [];
  lines.forEach((line, index) => {
    if (!isRamsterLine(line)) return;
    for (const rule of RULES) {
      const m = rule.re.exec(line);
      if (m) {
        out.push({ index, line, ...rule.classify(m, lines.slice(index + 1)) });
        return;
      }
    }
    out.push({ index, line, class: 'info', what: 'RAMster message' });
  });
  return out;
}

/** The most serious class among findings ('info' when there are none). */
export function worstClass(findings: DmesgFinding[]): DmesgClass {
  return findings.reduce<DmesgClass>((w, f) => (SEVERITY[f.class] > SEVERITY[w] ? f.class : w), 'info');
}
