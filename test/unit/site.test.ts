import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitCode } from '../../src/engine/result.ts';
import { runPlaybook } from '../../src/engine/run.ts';
import type { HostResult } from '../../src/engine/result.ts';
import { loadInventoryText } from '../../src/inventory/load.ts';
import { loadPlaybook } from '../../src/playbook/load.ts';
import { playbookSchemaText } from '../../src/playbook/schema-text.ts';
import type { Playbook, StepSpec } from '../../src/playbook/types.ts';
import { snapshot } from './steps/helpers.ts';
import { seedDebianRoot, twoFolderNodes } from './steps/ramster/seed.ts';

const SITE = 'playbooks/site.yaml';

/** The HOW-TO's stages in order, with the
 *  step types each runs, in order. */
const STAGES: [string, string[]][] = [
  ['preflight', ['preflight', 'service', 'mount']],
  ['kernel', ['package', 'package', 'kconfig', 'kernel_build']],
  ['grub', ['grub_cmdline']],
  ['reboot', ['reboot']],
  ['tools', ['file', 'file', 'file', 'file', 'service']],
  ['conf', ['ramster_conf', 'ramster_defaults']],
  ['heartbeat', ['ramster_rclocal', 'ramster_bringup']],
  ['shutdown', ['file', 'file', 'service']],
  ['verify', ['ramster_verify']],
];
/** The modern backend's play (the third), likewise. */
const MODERN_STAGES: [string, string[]][] = [
  ['kmod', ['file', 'file', 'file']],
  ['tools', ['package', 'package', 'file', 'file', 'file']],
  ['conf', ['modern_conf']],
  ['lend', ['modern_lend', 'service']],
  ['borrow', ['modern_borrow', 'service']],
  ['verify', ['modern_verify']],
];

/** Steps in the order a run reaches them: each play's steps, then its handlers. */
const runOrder = (pb: Playbook): StepSpec[] => pb.plays.flatMap((p) => [...p.steps, ...p.handlers]);
const legacyPlays = (pb: Playbook): Playbook => ({ ...pb, plays: pb.plays.slice(0, 2) });
const modernPlays = (pb: Playbook): Playbook => ({ ...pb, plays: pb.plays.slice(2) });

function expectStages(steps: StepSpec[], want: [string, string[]][]) {
  for (const s of steps) expect(s.tags, s.name).toHaveLength(1);
  const stages = steps.map((s) => s.tags[0]).filter((t, i, all) => t !== all[i - 1]);
  expect(stages).toEqual(want.map(([t]) => t));
  for (const [tag, types] of want)
    expect(
      steps.filter((s) => s.tags[0] === tag).map((s) => s.type),
      tag,
    ).toEqual(types);
}

describe('playbooks/site.yaml', () => {
  let pb: Playbook;
  beforeAll(async () => {
    pb = await loadPlaybook(SITE);
  });

  it('has every stage as a tag, in the HOW-TO order, each stage contiguous with its steps in order', () => {
    expect(pb.plays).toHaveLength(3);
    expectStages(runOrder(legacyPlays(pb)), STAGES);
    expectStages(runOrder(modernPlays(pb)), MODERN_STAGES);
  });

  it('is valid against the published playbook schema (editor completion)', () => {
    const validate = new Ajv2020({ allErrors: true, strict: false }).compile(JSON.parse(playbookSchemaText()));
    expect(validate(parse(readFileSync(SITE, 'utf8'))), JSON.stringify(validate.errors)).toBe(true);
  });

  it('runs every step only on nodes of its backend; grub notifies the cluster reboot, which waits at a cluster barrier', () => {
    for (const s of runOrder(legacyPlays(pb)))
      expect(s.when, s.name).toMatch(/^defined\(ramster\.backend\) and ramster\.backend == 'legacy'/);
    for (const s of runOrder(modernPlays(pb)))
      expect(s.when, s.name).toMatch(/^defined\(ramster\.backend\) and ramster\.backend == 'modern'/);
    // Lenders export before any borrower connects.
    expect(pb.plays[2].steps.find((s) => s.type === 'modern_borrow')?.barrier).toBe('cluster');
    const grub = pb.plays[0].steps.find((s) => s.type === 'grub_cmdline')!;
    expect(grub.notify).toEqual(['reboot the cluster together']);
    expect(pb.plays[0].handlers).toMatchObject([
      { name: 'reboot the cluster together', type: 'reboot', barrier: 'cluster' },
    ]);
    // Everyone is back from the reboot before the second play goes on.
    expect(pb.plays[1].steps[0].barrier).toBe('cluster');
  });
});

describe('site.yaml on two folder nodes and a host of no cluster', () => {
  let dir: string;
  let pb: Playbook;
  const inventory = () =>
    loadInventoryText(
      join(dir, 'inv.yaml'),
      // folders cannot reboot
      twoFolderNodes(dir, '{cluster: ramster, topology: one-way, backend: legacy}', {
        vars: '{ramster_reboot: false}',
        hosts: `    web: {connection: local, root: ${dir}/web}\n`,
      }),
    );
  const opts = (apply: boolean, extra = {}) => ({
    apply,
    forks: 4,
    connect: { acceptNewHostKeys: false, connectTimeoutMs: 1000 },
    ...extra,
  });
  const host = (r: { hosts: HostResult[] }, name: string) => r.hosts.find((h) => h.host === name)!;
  const read = (p: string) => readFileSync(join(dir, p), 'utf8');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rp-site-'));
    seedDebianRoot(join(dir, 'a'), 'system1');
    seedDebianRoot(join(dir, 'b'), 'system2');
    mkdirSync(join(dir, 'web'));
    pb = await loadPlaybook(SITE);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('dry run: every step with its diff, nothing written; apply makes those changes; a second apply changes nothing', async () => {
    const inv = inventory();
    const before = await snapshot(dir);
    const plan = await runPlaybook(inv, pb, opts(false));
    expect(await snapshot(dir)).toEqual(before);
    expect(exitCode(plan)).toBe(2);
    expect(plan.hosts.map((h) => [h.host, h.status, h.error]).sort()).toEqual([
      ['a', 'changed', undefined],
      ['b', 'changed', undefined],
      ['web', 'ok', undefined],
    ]);

    // Every step of the playbook appears, in order (the reboot handler was notified by grub).
    const a = host(plan, 'a');
    expect(a.steps.map((s) => s.step)).toEqual(runOrder(pb).map((s) => s.name));
    const byName = new Map(a.steps.map((s) => [s.step, s]));
    const step = (type: string, nth = 0) => a.steps.filter((s) => s.type === type)[nth];
    expect(step('preflight').status).toBe('ok');
    expect(step('grub_cmdline').change?.diff).toContain('+GRUB_CMDLINE_LINUX="zcache ramster"');
    expect(step('reboot')).toMatchObject({
      status: 'skipped',
      message: "when: defined(ramster.backend) and ramster.backend == 'legacy' and ramster_reboot",
    });
    expect(step('ramster_conf').change?.diff).toContain('+\tip_address = 10.0.0.2');
    expect(step('ramster_conf').change?.summary).toMatch(/identical on 2 nodes/);
    expect(step('ramster_defaults').change?.diff).toContain('+RAMSTER_REMOTE_TARGET=1');
    expect(step('ramster_rclocal').change?.diff).toContain('+\techo 1 > /sys/kernel/mm/ramster/manual_node_up');
    expect(step('ramster_bringup')).toMatchObject({
      status: 'skipped',
      message: 'needs a RAMster kernel booted with `zcache ramster` (see verify)',
    });
    expect(step('ramster_verify').status).toBe('skipped');
    for (const s of a.steps.filter(
      (x) =>
        x.status === 'changed' &&
        ['file', 'grub_cmdline', 'ramster_conf', 'ramster_defaults', 'ramster_rclocal'].includes(x.type),
    ))
      expect(s.change?.diff, s.step).toMatch(/^--- \/dev\/null|^--- a\//);
    // The services are installed by earlier steps of the same run: planned as conditional.
    expect(
      byName.get('ramster service enabled at boot (chkconfig --add / update-rc.d on SysV)')?.change?.conditional,
    ).toMatch(/not installed yet/);
    // systemd host: the SysV-only steps are skipped by their condition.
    expect(
      a.steps
        .filter((s) => s.status === 'skipped' && s.message?.includes("facts.init_system == 'sysvinit'"))
        .map((s) => s.type),
    ).toEqual(['mount', 'file', 'file']);
    // A host in no legacy cluster gets nothing.
    expect(host(plan, 'web').steps.every((s) => s.status === 'skipped')).toBe(true);

    const applied = await runPlaybook(inv, pb, opts(true));
    expect(exitCode(applied)).toBe(0);
    const summaries = (h: HostResult) => h.steps.map((s) => [s.step, s.status, s.change?.summary]);
    expect(summaries(host(applied, 'a'))).toEqual(summaries(a));
    expect(applied.totals.changed).toBe(plan.totals.changed);

    expect(read('a/etc/ramster.conf')).toBe(read('b/etc/ramster.conf'));
    expect(read('a/etc/default/grub')).toContain('\nGRUB_CMDLINE_LINUX="zcache ramster"\n');
    expect(read('a/etc/rc.local')).toMatch(/^#!\/bin\/sh -e\n[\s\S]*remote_target_nodenum[\s\S]*\nexit 0\n$/);
    expect(read('b/etc/rc.local')).not.toContain('remote_target_nodenum');
    expect(statSync(join(dir, 'a/etc/rc.local')).mode & 0o777).toBe(0o755);
    expect(statSync(join(dir, 'a/usr/sbin/ramster-ctl')).mode & 0o777).toBe(0o755);
    expect(read('a/usr/sbin/ramster-ctl')).toBe(readFileSync('playbooks/files/ramster-tools/ramster-ctl', 'utf8'));
    for (const unit of ['ramster.service', 'ramster-swapoff.service']) {
      const link = join(dir, 'a/etc/systemd/system/multi-user.target.wants', unit);
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
      expect(readlinkSync(link)).toBe(`/etc/systemd/system/${unit}`);
    }
    expect(read('a/etc/systemd/system/ramster.service.d/ramster-needs-kernel.conf')).toContain(
      'ConditionPathIsDirectory=/sys/kernel/mm/ramster',
    );
    expect(read('a/etc/hostname')).toBe('system1\n');

    const again = await runPlaybook(inv, pb, opts(true));
    expect(again.totals).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });
    const skippedNotes = host(again, 'b')
      .steps.filter((s) => s.type.startsWith('ramster_') && s.status === 'skipped')
      .map((s) => s.message);
    expect(skippedNotes).toEqual([
      expect.stringMatching(/^needs a RAMster kernel/),
      expect.stringMatching(/^an image is verified once booted/),
    ]);
    expect(exitCode(await runPlaybook(inv, pb, opts(false)))).toBe(0);
  });

  it('--tags conf runs only the conf stage', async () => {
    const r = await runPlaybook(inventory(), pb, opts(false, { tags: ['conf'] }));
    expect(
      host(r, 'a')
        .steps.filter((s) => s.status !== 'skipped')
        .map((s) => s.type),
    ).toEqual(['ramster_conf', 'ramster_defaults']);
    expect(host(r, 'a').steps.map((s) => s.type)).toEqual(['ramster_conf', 'ramster_defaults', 'modern_conf']);
  });
});

describe('site.yaml on two folder nodes of a modern cluster (what an image build gets)', () => {
  let dir: string;
  let pb: Playbook;
  const inventory = () =>
    loadInventoryText(
      join(dir, 'inv.yaml'),
      twoFolderNodes(
        dir,
        // encryption: none: dmsetup's package step needs a package manager, which these folder
        // nodes do not have (an image build's chroot does)
        '{cluster: ramster, topology: one-way, backend: modern, lend_mb: 512, zswap_compressor: lz4, encryption: none}',
      ),
    );
  const opts = (apply: boolean) => ({ apply, forks: 4, connect: { acceptNewHostKeys: false, connectTimeoutMs: 1000 } });
  const host = (r: { hosts: HostResult[] }, name: string) => r.hosts.find((h) => h.host === name)!;
  const read = (p: string) => readFileSync(join(dir, p), 'utf8');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rp-site-modern-'));
    seedDebianRoot(join(dir, 'a'), 'system1');
    seedDebianRoot(join(dir, 'b'), 'system2');
    pb = await loadPlaybook(SITE);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('installs the borrower and lender files by role, defers the live steps to first boot, and converges', async () => {
    const plan = await runPlaybook(inventory(), pb, opts(false));
    expect(exitCode(plan)).toBe(2);
    const applied = await runPlaybook(inventory(), pb, opts(true));
    expect(exitCode(applied), JSON.stringify(applied.hosts.map((h) => h.error))).toBe(0);
    const a = host(applied, 'a');
    const b = host(applied, 'b');
    const status = (h: HostResult, type: string) => h.steps.filter((s) => s.type === type).map((s) => s.status);
    // Every legacy step is skipped on a modern node.
    for (const s of a.steps.filter((x) => !x.type.startsWith('modern_') && x.status !== 'skipped'))
      expect(s.step).toMatch(/ramster-modern|ramster-lend|ramster-borrow|module|nvme|mdadm/i);
    expect(status(a, 'modern_conf')).toEqual(['changed']);
    for (const type of ['modern_lend', 'modern_borrow', 'modern_verify']) {
      expect(status(a, type), type).toEqual(['skipped']);
      expect(a.steps.find((s) => s.type === type)?.message, type).toMatch(/when the image boots|once booted/);
    }
    // Roles: a borrows (nvme-tcp at boot, the borrow unit enabled), b lends (nvmet at boot, the lend unit enabled).
    expect(read('a/etc/modules-load.d/ramster-borrower.conf')).toMatch(/^nvme-tcp$/m);
    expect(() => read('a/etc/modules-load.d/ramster-lender.conf')).toThrow();
    expect(read('b/etc/modules-load.d/ramster-lender.conf')).toMatch(/^nvmet-tcp$/m);
    expect(readlinkSync(join(dir, 'a/etc/systemd/system/multi-user.target.wants/ramster-borrow.service'))).toBe(
      '/etc/systemd/system/ramster-borrow.service',
    );
    expect(readlinkSync(join(dir, 'b/etc/systemd/system/multi-user.target.wants/ramster-lend.service'))).toBe(
      '/etc/systemd/system/ramster-lend.service',
    );
    expect(read('a/etc/ramster/modern.conf')).toMatch(
      /^borrow 1 \S+:lend:node1-to-node0 \S+:node0 10\.0\.0\.2 4420 -1 - \/etc\/ramster\/auth\/ramster-node1-to-node0\.keys$/m,
    );
    expect(read('b/etc/ramster/modern.conf')).toMatch(
      /^lend 0 \S+:lend:node1-to-node0 \S+:node0 \/run\/ramster-lend\/node0\.img 512 \/etc\/ramster\/auth\/ramster-node1-to-node0\.keys$/m,
    );
    expect(statSync(join(dir, 'a/usr/sbin/ramster-modern')).mode & 0o777).toBe(0o755);

    const again = await runPlaybook(inventory(), pb, opts(true));
    expect(again.totals.changed).toBe(0);
    expect(b.status).toBe('changed');
  });
});
