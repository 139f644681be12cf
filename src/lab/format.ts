import type { LabStatus } from './lab.ts';
import type { LabState } from './state.ts';

/** What `lab up` prints at the end: where the inventory is and how to log in by hand. */
export function describeLab(state: LabState): string {
  const lines = [`inventory: ${state.inventory}`];
  for (const g of state.guests) {
    lines.push(
      `${g.name} (${g.hostname}, cluster ${g.clusterAddress}): ssh -o UserKnownHostsFile=${state.knownHosts} -i ${state.identity} -p ${g.sshPort} root@127.0.0.1`,
    );
  }
  return lines.join('\n');
}

/** `lab status` as plain lines. */
export function formatLabStatus(status: LabStatus): string {
  if (!status.exists) return `no lab in ${status.dir}`;
  const lines = [`lab ${status.dir}`];
  for (const g of status.guests) {
    const state = !g.running ? 'stopped' : g.sshReachable ? 'running, SSH ok' : 'running, SSH not answering';
    lines.push(`  ${g.name} ${g.hostname} 127.0.0.1:${g.sshPort} cluster ${g.clusterAddress}: ${state}`);
  }
  if (status.inventory) lines.push(`inventory: ${status.inventory}`);
  return lines.join('\n');
}
