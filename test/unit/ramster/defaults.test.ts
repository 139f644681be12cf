import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderDefaults } from '../../../src/ramster/defaults.ts';
import { makeCluster, withRamster } from './clusters.ts';
import { tempDir } from '../../helpers/tmp.ts';

const shipped = new URL('../../../playbooks/files/ramster-tools/ramster.default', import.meta.url).pathname;

describe('renderDefaults', () => {
  it('with the HOW-TO answers and no node is the file shipped in the package', () => {
    expect(renderDefaults(makeCluster(2, 'one-way'))).toBe(readFileSync(shipped, 'utf8'));
  });

  it('carries the HOW-TO values and o2cb-like names', () => {
    const text = renderDefaults(makeCluster(2));
    for (const line of [
      'RAMSTER_ENABLED=true',
      'RAMSTER_BOOTCLUSTER=ramster',
      'RAMSTER_HEARTBEAT_THRESHOLD=500',
      'RAMSTER_IDLE_TIMEOUT_MS=1000000',
      'RAMSTER_KEEPALIVE_DELAY_MS=2000',
      'RAMSTER_RECONNECT_DELAY_MS=2000',
    ])
      expect(text.split('\n')).toContain(line);
  });

  it('takes the timeouts from the inventory and the target of the node', () => {
    const c = withRamster(makeCluster(3, 'ram-server', 'lab'), { heartbeatDeadThreshold: 61, idleTimeoutMs: 90000 });
    const node2 = renderDefaults(c, 2);
    expect(node2).toMatch(/^RAMSTER_BOOTCLUSTER=lab$/m);
    expect(node2).toMatch(/^RAMSTER_HEARTBEAT_THRESHOLD=61$/m);
    expect(node2).toMatch(/^RAMSTER_IDLE_TIMEOUT_MS=90000$/m);
    expect(node2).toMatch(/^RAMSTER_REMOTE_TARGET=0$/m);
    expect(renderDefaults(c, 0)).toMatch(/^RAMSTER_REMOTE_TARGET=$/m);
    // Only the target line differs between nodes.
    const diff = renderDefaults(c, 0)
      .split('\n')
      .filter((l, i) => l !== node2.split('\n')[i]);
    expect(diff).toEqual(['RAMSTER_REMOTE_TARGET=']);
  });

  it('is a file sh can source', () => {
    const file = `${tempDir('ramster-defaults-')}/ramster`;
    writeFileSync(file, renderDefaults(makeCluster(2, 'symmetric'), 1));
    const r = spawnSync('sh', ['-c', `set -eu; . ${file}; echo "$RAMSTER_IDLE_TIMEOUT_MS/$RAMSTER_REMOTE_TARGET"`], {
      encoding: 'utf8',
    });
    expect(r.stdout).toBe('1000000/0\n');
  });
});
