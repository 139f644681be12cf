import { mkdtempSync, readFileSync, existsSync, rmSync, mkdirSync, writeFileSync, utimesSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exitCode } from '../../src/engine/result.ts';
import { runPlaybook } from '../../src/engine/run.ts';
import { loadInventoryText } from '../../src/inventory/load.ts';
import { loadPlaybookText } from '../../src/playbook/load.ts';
import { PENDING_PATH } from '../../src/engine/pending.ts';
import { LOCK_PATH } from '../../src/engine/hostlock.ts';
import { makeStyle } from '../../src/report/style.ts';
import { formatRecap } from '../../src/report/summary.ts';

// Hosts here are local folders (connection: local, root: <dir>): the engine is exercised
// for real, only the transport is a folder instead of SSH.
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rp-engine-'));
  for (const h of ['a', 'b']) mkdirSync(join(dir, h));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const inventory = () =>
  loadInventoryText(
    join(dir, 'inv.yaml'),
    `all:
  vars: {greeting: hello}
  children:
    lab:
      ramster: {cluster: ramster, topology: one-way}
      hosts:
        a: {address: 127.0.0.1, connection: local, root: ${dir}/a, number: 0, hostname: system1, cluster_address: 10.0.0.1}
        b: {address: 127.0.0.1, connection: local, root: ${dir}/b, number: 1, hostname: system2, cluster_address: 10.0.0.2}
`,
  );

const opts = (apply: boolean, extra = {}) => ({
  apply,
  forks: 10,
  connect: { acceptNewHostKeys: false, connectTimeoutMs: 1000 },
  ...extra,
});

describe('engine', () => {
  const pbText = `
- name: demo
  hosts: all
  steps:
    - name: motd
      file: {path: /etc/motd, content: "{{ greeting }} from {{ ramster.node.hostname }}\\n", mode: "0644"}
      notify: [second, first]
    - name: only on node 0
      file: {path: /etc/zero, content: "zero\\n"}
      when: ramster.node.number == 0
      tags: [zero]
  handlers:
    - name: first
      command: {cmd: "echo first >> $ROOT/handlers.log"}
    - name: second
      command: {cmd: "echo second >> $ROOT/handlers.log"}
`;

  it('plans without changing anything, applies, then converges to changed == 0', async () => {
    const inv = inventory();
    const pb = loadPlaybookText(join(dir, 'pb.yaml'), pbText);
    const plan = await runPlaybook(inv, pb, opts(false));
    expect(exitCode(plan)).toBe(2);
    expect(existsSync(join(dir, 'a/etc/motd'))).toBe(false);
    const planned = plan.hosts.find((h) => h.host === 'a')!.steps.map((s) => [s.step, s.status, s.change?.summary]);

    const first = await runPlaybook(inv, pb, opts(true));
    expect(exitCode(first)).toBe(0);
    expect(
      first.hosts
        .find((h) => h.host === 'a')!
        .steps.filter((s) => !s.handler)
        .map((s) => [s.step, s.status, s.change?.summary]),
    ).toEqual(planned.filter((s) => s[0] !== 'first' && s[0] !== 'second'));
    expect(readFileSync(join(dir, 'a/etc/motd'), 'utf8')).toBe('hello from system1\n');
    expect(readFileSync(join(dir, 'b/etc/motd'), 'utf8')).toBe('hello from system2\n');
    expect(existsSync(join(dir, 'a/etc/zero'))).toBe(true);
    expect(existsSync(join(dir, 'b/etc/zero'))).toBe(false);
    // handlers once each, in definition order (not notify order)
    expect(readFileSync(join(dir, 'a/handlers.log'), 'utf8')).toBe('first\nsecond\n');

    const second = await runPlaybook(inv, pb, opts(true));
    expect(second.totals.changed).toBe(0);
    expect(second.hosts.every((h) => h.status === 'ok')).toBe(true);
    expect(readFileSync(join(dir, 'a/handlers.log'), 'utf8')).toBe('first\nsecond\n');
    expect(exitCode(await runPlaybook(inv, pb, opts(false)))).toBe(0);
  });

  it('selects steps by --tags / --skip-tags and hosts by --limit', async () => {
    const inv = inventory();
    const pb = loadPlaybookText(join(dir, 'pb.yaml'), pbText);
    const r = await runPlaybook(inv, pb, opts(true, { tags: ['zero'], limit: 'a' }));
    expect(r.hosts.map((h) => h.host)).toEqual(['a']);
    expect(r.hosts[0].steps.map((s) => s.step)).toEqual(['only on node 0']);
    const s = await runPlaybook(inv, pb, opts(false, { skipTags: ['zero'] }));
    expect(s.hosts[0].steps.map((x) => x.step)).not.toContain('only on node 0');
  });

  it('a failing host stops only itself; pending handlers survive the failure and fire next run', async () => {
    const inv = inventory();
    const failing = `
- hosts: all
  steps:
    - file: {path: /etc/motd, content: "x\\n"}
      notify: [h]
    - name: breaks on a
      command: {cmd: "test ! -e $ROOT/break"}
  handlers:
    - name: h
      command: {cmd: "echo ran >> $ROOT/h.log"}
`;
    const pb = loadPlaybookText(join(dir, 'pb.yaml'), failing);
    mkdirSync(join(dir, 'a/break'));
    const r = await runPlaybook(inv, pb, opts(true));
    expect(r.hosts.find((h) => h.host === 'a')!.status).toBe('failed');
    expect(r.hosts.find((h) => h.host === 'b')!.status).toBe('changed');
    expect(exitCode(r)).toBe(3);
    // the failed step is the host's one failure: not counted again for the host
    expect(r.hosts.find((h) => h.host === 'a')!.counts).toMatchObject({ changed: 1, failed: 1 });
    expect(r.totals).toMatchObject({ hosts: 2, failed: 1, unreachable: 0 });
    expect(existsSync(join(dir, 'a/h.log'))).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, 'a', PENDING_PATH), 'utf8'))).toEqual({ 'play 1': ['h'] });
    expect(readFileSync(join(dir, 'b/h.log'), 'utf8')).toBe('ran\n');

    rmSync(join(dir, 'a/break'), { recursive: true });
    const again = await runPlaybook(inv, pb, opts(true));
    expect(again.hosts.find((h) => h.host === 'a')!.status).toBe('changed');
    expect(readFileSync(join(dir, 'a/h.log'), 'utf8')).toBe('ran\n');
    expect(existsSync(join(dir, 'a', PENDING_PATH))).toBe(false);
  });

  it('a cluster barrier holds every node until all have arrived', async () => {
    const inv = inventory();
    const pb = loadPlaybookText(
      join(dir, 'pb.yaml'),
      `
- hosts: all
  steps:
    - name: slow on a
      command: {cmd: "if [ \\"$(basename $ROOT)\\" = a ]; then sleep 1.5; fi; date +%s%N > $ROOT/arrived"}
    - name: after barrier
      barrier: cluster
      command: {cmd: "date +%s%N > $ROOT/passed"}
`,
    );
    const r = await runPlaybook(inv, pb, opts(true));
    expect(r.totals.failed).toBe(0);
    const aArrived = Number(readFileSync(join(dir, 'a/arrived'), 'utf8'));
    const bPassed = Number(readFileSync(join(dir, 'b/passed'), 'utf8'));
    expect(bPassed).toBeGreaterThan(aArrived);
  });

  it('a dry run marks a step that fails only because of an earlier pending change as conditional', async () => {
    const inv = inventory();
    const pb = loadPlaybookText(
      join(dir, 'pb.yaml'),
      `
- hosts: a
  steps:
    - file: {path: /opt/tool/config, content: "x\\n"}
    - name: use it
      lineinfile: {path: /opt/tool/config, line: "y"}
`,
    );
    const r = await runPlaybook(inv, pb, opts(false));
    const use = r.hosts[0].steps.find((s) => s.step === 'use it')!;
    expect(use.status).toBe('changed');
    expect(use.change?.conditional ?? '').toMatch(/earlier pending changes/);
    expect(exitCode(r)).toBe(2);
  });
});

describe('host lock', () => {
  const pb = () =>
    loadPlaybookText(join(dir, 'pb.yaml'), `- hosts: a\n  steps:\n    - file: {path: /etc/motd, content: "x\\n"}\n`);
  const lockDir = () => join(dir, 'a', LOCK_PATH);
  const bootId = () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

  it('is taken for the run and released after it', async () => {
    const r = await runPlaybook(inventory(), pb(), opts(true));
    expect(r.hosts[0].status).toBe('changed');
    expect(existsSync(lockDir())).toBe(false);
  });

  it('a live run elsewhere holds the host: the apply fails clearly, nothing is changed', async () => {
    mkdirSync(lockDir(), { recursive: true });
    writeFileSync(
      join(lockDir(), 'owner'),
      `controller=other-machine\npid=4242\nstarted=2026-01-01T00:00:00Z\nboot_id=${bootId()}\n`,
    );
    const r = await runPlaybook(inventory(), pb(), opts(true));
    expect(r.hosts[0].status).toBe('failed');
    expect(r.hosts[0].error).toMatch(/being provisioned by another run \(other-machine pid 4242.*--break-lock/);
    expect(existsSync(join(dir, 'a/etc/motd'))).toBe(false);
    expect(existsSync(lockDir())).toBe(true);
    expect(exitCode(r)).toBe(3);
    expect(r.hosts[0].counts).toEqual({ ok: 0, changed: 0, failed: 1, skipped: 0, unreachable: 0 });
    expect(r.totals).toMatchObject({ hosts: 1, failed: 1 });
    // a dry run never takes or needs the lock
    expect(exitCode(await runPlaybook(inventory(), pb(), opts(false)))).toBe(2);
    const forced = await runPlaybook(inventory(), pb(), opts(true, { breakLock: true }));
    expect(forced.hosts[0].status).toBe('changed');
  });

  it('a no-op apply takes no lock, yet still fails on a host a live run holds; --break-lock still takes it over', async () => {
    await runPlaybook(inventory(), pb(), opts(true));
    const noop = await runPlaybook(inventory(), pb(), opts(true));
    expect(noop.hosts[0]).toMatchObject({ status: 'ok', roundTrips: 1 });
    expect(readFileSync(join(dir, 'a', `${LOCK_PATH}.serial`), 'utf8')).toBe('1\n'); // taken by the first apply only
    writeFileSync(lockDir(), `controller=other-machine\npid=4242\nstarted=2026-01-01T00:00:00Z\nboot_id=${bootId()}\n`);
    const held = await runPlaybook(inventory(), pb(), opts(true));
    expect(held.hosts[0].status).toBe('failed');
    expect(held.hosts[0].error).toMatch(/being provisioned by another run \(other-machine pid 4242/);
    const forced = await runPlaybook(inventory(), pb(), opts(true, { breakLock: true }));
    expect(forced.hosts[0].status).toBe('ok');
    expect(existsSync(lockDir())).toBe(false);
  });

  it('--lock-wait waits for the live holder, then takes the lock at once (no run can slip in before its first change)', async () => {
    await runPlaybook(inventory(), pb(), opts(true));
    mkdirSync(dirname(lockDir()), { recursive: true });
    writeFileSync(lockDir(), `controller=other-machine\npid=4242\nstarted=2026-01-01T00:00:00Z\nboot_id=${bootId()}\n`);
    const started = Date.now();
    const freed = new Promise<void>((r) => setTimeout(() => r(rmSync(lockDir())), 3000));
    const waited = await runPlaybook(inventory(), pb(), opts(true, { lockWaitMs: 120_000 }));
    await freed;
    expect(waited.hosts[0].status, waited.hosts[0].error).toBe('ok');
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
    expect(readFileSync(join(dir, 'a', `${LOCK_PATH}.serial`), 'utf8')).toBe('2\n'); // taken although nothing changed
    expect(existsSync(lockDir())).toBe(false);
  });

  it('a stale lock (its run on this machine is gone, the host rebooted since, or no owner record) is taken over', async () => {
    for (const owner of [
      `controller=${hostname()}\npid=999999\nstarted=x\nboot_id=${bootId()}\n`,
      `controller=other\npid=1\nstarted=x\nboot_id=00000000-0000-0000-0000-000000000000\n`,
      '',
    ]) {
      mkdirSync(lockDir(), { recursive: true });
      writeFileSync(join(lockDir(), 'owner'), owner);
      if (!owner) utimesSync(lockDir(), new Date(Date.now() - 120_000), new Date(Date.now() - 120_000)); // no record: stale once old
      const logs: string[] = [];
      const r = await runPlaybook(
        inventory(),
        pb(),
        opts(true, { events: { log: (_h: string, l: string) => logs.push(l) } }),
      );
      expect(r.hosts[0].status).not.toBe('failed');
      expect(logs.join('\n')).toMatch(/taking over a stale lock/);
      expect(existsSync(lockDir())).toBe(false);
    }
  });

  it('an empty lock file (its host lost power right after taking it) is stale once it predates the boot, held while it is newer', async () => {
    mkdirSync(dirname(lockDir()), { recursive: true });
    writeFileSync(lockDir(), '');
    const fresh = await runPlaybook(inventory(), pb(), opts(true));
    expect(fresh.hosts[0].error).toMatch(/being provisioned by another run/);
    const uptimeS = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    const beforeBoot = new Date(Date.now() - (uptimeS + 30) * 1000);
    utimesSync(lockDir(), beforeBoot, beforeBoot);
    const logs: string[] = [];
    const r = await runPlaybook(
      inventory(),
      pb(),
      opts(true, { events: { log: (_h: string, l: string) => logs.push(l) } }),
    );
    expect(r.hosts[0].status, r.hosts[0].error).not.toBe('failed');
    expect(logs.join('\n')).toMatch(
      /taking over a stale lock: it has no owner record and was written before the host last booted/,
    );
    expect(existsSync(lockDir())).toBe(false);
  });

  it('a host failing before any step (lock held, facts failing) counts failed=1 in its recap line and the totals, as an unreachable one counts unreachable=1', async () => {
    mkdirSync(lockDir(), { recursive: true });
    writeFileSync(
      join(lockDir(), 'owner'),
      `controller=other-machine\npid=4242\nstarted=2026-01-01T00:00:00Z\nboot_id=${bootId()}\n`,
    );
    const inv = loadInventoryText(
      join(dir, 'inv4.yaml'),
      `all:
  hosts:
    a: {address: 127.0.0.1, connection: local, root: ${dir}/a}
    nofacts: {address: 127.0.0.1, connection: local, root: ${dir}/missing}
    b: {address: 127.0.0.1, connection: local, root: ${dir}/b}
    down: {address: 127.0.0.1, port: 1}
`,
    );
    const all = loadPlaybookText(
      join(dir, 'pb4.yaml'),
      `- hosts: all\n  steps:\n    - file: {path: /etc/motd, content: "x\\n"}\n`,
    );
    const r = await runPlaybook(inv, all, opts(true));
    const by = Object.fromEntries(r.hosts.map((h) => [h.host, h]));
    expect(by.a.error).toMatch(/being provisioned by another run/);
    expect(by.nofacts.error).toMatch(/gather facts/);
    for (const h of ['a', 'nofacts']) {
      expect(by[h].status, h).toBe('failed');
      expect(by[h].steps, h).toEqual([]);
      expect(by[h].counts, h).toEqual({ ok: 0, changed: 0, failed: 1, skipped: 0, unreachable: 0 });
    }
    expect(by.b.counts).toEqual({ ok: 0, changed: 1, failed: 0, skipped: 0, unreachable: 0 });
    expect(by.down.status).toBe('unreachable');
    expect(by.down.counts).toEqual({ ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 1 });
    expect(r.totals).toEqual({ hosts: 4, ok: 0, changed: 1, failed: 2, skipped: 0, unreachable: 1 });
    expect(exitCode(r)).toBe(5); // failed and unreachable, as documented
    const recap = formatRecap(r, makeStyle(process.stdout, true));
    expect(recap).toMatch(/^a +failed +ok=0 changed=0 failed=1 skipped=0 unreachable=0 /m);
    expect(recap).toMatch(/^nofacts +failed +ok=0 changed=0 failed=1 skipped=0 unreachable=0 /m);
    expect(recap).toMatch(/^down +unreachable +ok=0 changed=0 failed=0 skipped=0 unreachable=1 /m);
    expect(recap).toMatch(/^TOTAL +hosts=4 ok=0 changed=1 failed=2 skipped=0 unreachable=1 /m);
    // a dry run that cannot check a host: same counts, exit 1
    const plan = await runPlaybook(inv, all, opts(false, { limit: 'nofacts' }));
    expect(plan.totals).toMatchObject({ hosts: 1, failed: 1 });
    expect(exitCode(plan)).toBe(1);
  });
});
