import type { LegacyCluster } from './model.ts';
import { remoteTarget } from './heartbeat.ts';

/** Where ramster-ctl and the ramster service read their settings (o2cb's convention). */
export const DEFAULTS_PATH = { debian: '/etc/default/ramster', redhat: '/etc/sysconfig/ramster' } as const;

/**
 * The defaults file (/etc/default/ramster or /etc/sysconfig/ramster) of a cluster's node.
 * Everything but RAMSTER_REMOTE_TARGET must be identical on every node (the network handshake
 * drops peers whose timeouts differ); with no `nodeNumber` the target is left empty, which is
 * also the file shipped in the ramster-tools package.
 */
export function renderDefaults(cluster: LegacyCluster, nodeNumber?: number): string {
  let target = '';
  if (nodeNumber !== undefined) {
    const self = cluster.nodes.find((n) => n.number === nodeNumber);
    if (!self) throw new Error(`cluster '${cluster.name}' has no node number ${nodeNumber}`);
    target = String(remoteTarget(cluster, self) ?? '');
  }
  return `#
# Settings of the RAMster cluster, read by ramster-ctl, the ramster service and the ramster
# init script. Debian: /etc/default/ramster; Red Hat: /etc/sysconfig/ramster.
# The timeouts must be the same on every node of the cluster.
#

# RAMSTER_ENABLED: 'true' means configure the cluster on boot.
RAMSTER_ENABLED=true

# RAMSTER_BOOTCLUSTER: the cluster of /etc/ramster.conf to start.
RAMSTER_BOOTCLUSTER=${cluster.name}

# RAMSTER_HEARTBEAT_THRESHOLD: heartbeat dead threshold (values <= 2 are ignored by the kernel).
RAMSTER_HEARTBEAT_THRESHOLD=${cluster.ramster.heartbeatDeadThreshold}

# RAMSTER_IDLE_TIMEOUT_MS: time in ms before a silent connection is dropped; connection
# attempts also stop for good after this long, hence the large value.
RAMSTER_IDLE_TIMEOUT_MS=${cluster.ramster.idleTimeoutMs}

# RAMSTER_KEEPALIVE_DELAY_MS: max. time in ms before a keepalive packet is sent.
RAMSTER_KEEPALIVE_DELAY_MS=${cluster.ramster.keepaliveDelayMs}

# RAMSTER_RECONNECT_DELAY_MS: min. time in ms between connection attempts.
RAMSTER_RECONNECT_DELAY_MS=${cluster.ramster.reconnectDelayMs}

# RAMSTER_REMOTE_TARGET: node number this node sends its pages to ('ramster-ctl remotify');
# empty on nodes that only lend memory.
RAMSTER_REMOTE_TARGET=${target}

# RAMSTER_PERS_REMOTIFY / RAMSTER_EPH_REMOTIFY: remotify swap / page-cache pages (1 or 0).
RAMSTER_PERS_REMOTIFY=1
RAMSTER_EPH_REMOTIFY=1

# RAMSTER_SWAPOFF_ON_STOP: 'true' runs swapoff -a when the service stops, before the network
# goes down, so pages kept on other nodes come home first (a shutdown can hang otherwise).
RAMSTER_SWAPOFF_ON_STOP=true
`;
}
