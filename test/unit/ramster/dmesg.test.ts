import { describe, expect, it } from 'vitest';
import { classifyDmesg, worstClass } from '../../../src/ramster/dmesg.ts';

const boot = [
  '[    1.100000] zcache: using lzo compressor',
  '[    1.200000] ramster: cleancache enabled using kernel transcendent memory and compression buddies',
  '[    1.200100] ramster: frontswap enabled using kernel transcendent memory and compression buddies',
  '[    1.300000] ramster: r2net handlers registered',
  '[    1.400000] ramster: Initializing frontswap selfshrink driver.',
  '[    2.000000] e1000: eth0 NIC Link is Up 1000 Mbps Full Duplex',
];

describe('classifyDmesg', () => {
  it('startup and connection lines are info; other kernel lines are left out', () => {
    const f = classifyDmesg([
      ...boot,
      '[   30.1] ramster: Accepted connection from node node1 (num 1) at 10.0.0.11:7777',
      '[   30.2] ramster: Connected to node node2 (num 2) at 10.0.0.12:7777',
      '[   31.0] ramster: node 1 set as remotification target',
    ]);
    expect(f.map((x) => x.class)).toEqual(Array(8).fill('info'));
    expect(f.some((x) => x.line.includes('e1000'))).toBe(false);
    expect(f[5]).toMatchObject({ index: 6, node: 1, what: 'connected with node node1 (num 1, incoming)' });
    expect(f[7]).toMatchObject({ node: 1, what: 'node 1 is the remote target' });
    expect(worstClass(f)).toBe('info');
  });

  it('timeout and address mismatches are config-mismatch, with a fix', () => {
    const f = classifyDmesg([
      'ramster: node node1 (num 1) at 10.0.0.11:7777 uses a network idle timeout of 30000 ms, but we use 1000000 ms locally. Disconnecting.',
      'ramster: node node1 (num 1) at 10.0.0.11:7777 uses a keepalive delay of 5000 ms, but we use 2000 ms locally. Disconnecting.',
      'ramster: node node1 (num 1) at 10.0.0.11:7777 uses a heartbeat timeout of 62000 ms, but we use 1000000 ms locally. Disconnecting.',
      'ramster: Attempt to connect from unknown node at 10.0.0.99:43122',
      'ramster: node 2 not up, ignoring setting of remotification target',
      'ramster: bad num to node node_num=9?',
    ]);
    expect(f.map((x) => x.class)).toEqual(Array(6).fill('config-mismatch'));
    expect(f[0]).toMatchObject({
      node: 1,
      what: 'a node uses a network idle timeout of 30000 ms, this node 1000000 ms: the connection is dropped',
    });
    expect(f[0].fix).toMatch(/RAMSTER_IDLE_TIMEOUT_MS/);
    expect(f[3].what).toMatch(/10\.0\.0\.99/);
    expect(f[4]).toMatchObject({ node: 2 });
    expect(f[4].fix).toMatch(/node-up/);
    expect(worstClass(f)).toBe('config-mismatch');
  });

  it('giving up, a lost node and a swallowed node-up are unrecoverable: reboot', () => {
    const f = classifyDmesg([
      'ramster: No connection established with node 1 after 1000.0 seconds, giving up.',
      'ramster: No longer connected to node node2 (num 2) at 10.0.0.12:7777',
      'ramster: cluster not alive, node_up_manual ignored',
      'ramster: Connection to node node3 (num 3) at 10.0.0.13:7777 shutdown, state 7',
    ]);
    expect(f.map((x) => x.class)).toEqual(['unrecoverable', 'unrecoverable', 'unrecoverable', 'unrecoverable']);
    expect(f[0].fix).toMatch(/reboot all nodes/);
    expect(f[2].fix).toMatch(/ramster-ctl start\) before any write to manual_node_up/);
    expect(worstClass([...classifyDmesg(boot), ...f])).toBe('unrecoverable');
  });

  it('state 7 and a disconnect are harmless when the node connects again later', () => {
    const f = classifyDmesg([
      'ramster: Connection to node node1 (num 1) at 10.0.0.11:7777 shutdown, state 7',
      'ramster: No longer connected to node node1 (num 1) at 10.0.0.11:7777',
      'ramster: Connection to node node2 (num 2) at 10.0.0.12:7777 shutdown, state 7',
      'ramster: Accepted connection from node node1 (num 1) at 10.0.0.11:7777',
      'ramster_r2net, message length problem',
      'ramster: bad accounting for XH_EVICTED',
    ]);
    expect(f.map((x) => x.class)).toEqual(['harmless', 'harmless', 'unrecoverable', 'info', 'harmless', 'harmless']);
    expect(f[2].node).toBe(2);
  });

  it('unknown RAMster lines are kept as info', () => {
    expect(classifyDmesg(['ramster: something new'])).toEqual([
      { index: 0, line: 'ramster: something new', class: 'info', what: 'RAMster message' },
    ]);
  });
});
