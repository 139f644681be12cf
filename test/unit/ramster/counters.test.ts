import { describe, expect, it } from 'vitest';
import { counterDelta, parseCounters, remoteActivity } from '../../../src/ramster/counters.ts';

const server = `/sys/kernel/debug/ramster/foreign_eph_pages:120
/sys/kernel/debug/ramster/foreign_eph_pages_max:400
/sys/kernel/debug/ramster/foreign_pers_pages:3000
/sys/kernel/debug/ramster/foreign_pers_pages_max:0
`;
const client = `/sys/kernel/debug/zcache/eph_pageframes:10
/sys/kernel/debug/zcache/pers_zbytes:81920
/sys/kernel/debug/ramster/eph_pages_remoted:55
/sys/kernel/debug/ramster/pers_pages_remoted:2900
/sys/kernel/debug/ramster/remote_eph_pages_succ_get:7
/sys/kernel/debug/ramster/remote_pers_pages_succ_get:1200
/sys/kernel/debug/ramster/remote_pers_pages_unsucc_get:3
/sys/kernel/debug/ramster/pers_pages_remote_failed:1
/sys/kernel/mm/ramster/remote_target_nodenum:1
/sys/kernel/mm/ramster/manual_node_up:0 1 
`;

describe('parseCounters', () => {
  it('groups by directory, numbers as numbers, other values as text', () => {
    const { counters, unparsed } = parseCounters(client);
    expect(unparsed).toEqual([]);
    expect(counters.zcache).toEqual({ eph_pageframes: 10, pers_zbytes: 81920 });
    expect(counters.ramster.remote_pers_pages_succ_get).toBe(1200);
    expect(counters.ramster.remote_target_nodenum).toBe(1);
    expect(counters.ramster.manual_node_up).toBe('0 1');
  });

  it('keeps lines without a path apart (grep without -H on one file)', () => {
    expect(parseCounters('42\n/sys/kernel/debug/frontswap/succ_stores:5\n')).toEqual({
      counters: { frontswap: { succ_stores: 5 } },
      unparsed: ['42'],
    });
  });

  it('sums what the HOW-TO watches on the server and the client', () => {
    expect(remoteActivity(parseCounters(server).counters)).toEqual({
      foreignPages: 3120,
      pagesRemoted: 0,
      remoteGets: 0,
      failures: 0,
    });
    expect(remoteActivity(parseCounters(client).counters)).toEqual({
      foreignPages: 0,
      pagesRemoted: 2955,
      remoteGets: 1207,
      failures: 4,
    });
  });

  it('computes increases between two readings', () => {
    const before = parseCounters(server).counters;
    const after = parseCounters(server.replace('foreign_pers_pages:3000', 'foreign_pers_pages:3500')).counters;
    expect(counterDelta(before, after).ramster).toMatchObject({ foreign_pers_pages: 500, foreign_eph_pages: 0 });
  });
});
