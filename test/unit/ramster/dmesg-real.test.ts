import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyDmesg } from '../../../src/ramster/dmesg.ts';

// Lines recorded from the real RAMster kernel (test/fixtures/dmesg/, with the vendor tree's
// "(cpu)[pid:comm]" printk prefix): every RAMster line has a class of its own, not the
// catch-all, and none of a healthy run is serious.
const DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'dmesg');
const files = readdirSync(DIR).filter((f) => f.endsWith('.txt'));

describe('classifyDmesg on real Linux 3.10 lines', () => {
  it('has fixtures', () => expect(files.length).toBeGreaterThan(0));
  for (const f of files) {
    it(`${f}: every RAMster line classified by a rule, nothing serious`, () => {
      const lines = readFileSync(join(DIR, f), 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('#'));
      const findings = classifyDmesg(lines);
      expect(findings.length).toBeGreaterThan(3);
      expect(findings.filter((x) => x.what === 'RAMster message').map((x) => x.line)).toEqual([]);
      expect(findings.filter((x) => x.class !== 'info' && x.class !== 'harmless').map((x) => x.line)).toEqual([]);
    });
  }
});

describe('classifyDmesg on a real Linux 3.10 failure', () => {
  it('the shutdown that removed the cluster with pages remote: the failed get and the r2net BUG are unrecoverable, with the fix', () => {
    const text = readFileSync(
      join(DIR, '..', 'dmesg-failures', 'ramster-3.10.72-shutdown-cluster-removed-node1.txt'),
      'utf8',
    );
    const findings = classifyDmesg(text.split('\n').filter((l) => l && !l.startsWith('#')));
    const serious = findings.filter((x) => x.class === 'unrecoverable');
    expect(serious.map((x) => x.what)).toEqual([
      expect.stringMatching(/^a swapped page could not be taken back from zcache\/RAMster/),
      expect.stringMatching(
        /^r2net met a node no longer in the cluster \(drivers\/staging\/zcache\/ramster\/r2net\.c:307\)/,
      ),
    ]);
    expect(serious[1].fix).toMatch(/ramster-ctl stop refuses then, and keeps the cluster at shutdown/);
  });

  it('the shutdown after the network went down with pages remote: the tasks waiting in r2net are unrecoverable', () => {
    const text = readFileSync(
      join(DIR, '..', 'dmesg-failures', 'ramster-3.10.72-shutdown-network-down-node1.txt'),
      'utf8',
    );
    const serious = classifyDmesg(text.split('\n').filter((l) => l && !l.startsWith('#'))).filter(
      (x) => x.class === 'unrecoverable',
    );
    expect(serious.map((x) => x.what)).toEqual([
      expect.stringMatching(/^kworker\/u2:2:20 has waited 60 s for a RAMster node that does not answer/),
      expect.stringMatching(/^umountfs:2042 has waited 60 s/),
      expect.stringMatching(/^kworker\/u2:2:20 has waited 60 s/),
    ]);
  });

  it("a hung task outside r2net is not RAMster's", () => {
    const lines = [
      '[  1.0] INFO: task jbd2/vda1-8:99 blocked for more than 120 seconds.',
      '[  1.0] Call Trace:',
      '[  1.0]  [<ffffffff8110e0a0>] ? jbd2_journal_commit_transaction+0x1a0/0x1700',
    ];
    expect(classifyDmesg(lines).map((f) => f.class)).toEqual(['info']);
  });
});
