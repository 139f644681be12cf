import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rebootStep, waitForNewBootId } from '../../../src/steps/reboot.ts';
import { LocalTransport } from '../../../src/transport/local.ts';
import { HostKeyError, type ExecResult, type Transport } from '../../../src/transport/types.ts';
import { makeCtx, tempRoot } from './helpers.ts';
import { framedAnswer } from '../../helpers/frames.ts';

describe('reboot step on the local transport', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir: root, cleanup } = await tempRoot()));
  afterEach(() => cleanup());

  it('refuses, in a dry run as well, and says how to fix it', async () => {
    for (const t of [new LocalTransport(root), new LocalTransport()]) {
      for (const apply of [false, true]) {
        await expect(rebootStep.checkApply({}, makeCtx(t, apply))).rejects.toThrow(
          /^reboot refused on local.*rebooting it would end this run\. Reach the host over SSH \(connection: ssh\)/,
        );
      }
    }
  });
});

/** FAKE transport (unit test only): plays back scripted boot_id answers so the polling
 *  logic can be checked without rebooting anything. The real path runs in the QEMU lab. */
class ScriptedSsh implements Transport {
  readonly kind = 'ssh' as const;
  readonly root = '';
  readonly target = 'root@fake:22';
  roundTrips = 0;
  scripts: string[] = [];
  reconnects = 0;
  constructor(
    private answers: (ExecResult | Error)[],
    private lends: string[] = [],
  ) {}
  async exec(script: string): Promise<ExecResult> {
    this.roundTrips++;
    this.scripts.push(script);
    if (script.includes('rp_frame lends'))
      return {
        code: 0,
        stdout: framedAnswer(script, `@lends\n${this.lends.map((l) => `${l}\n`).join('')}`),
        stderr: '',
      };
    if (!script.includes('boot_id')) return { code: 0, stdout: '', stderr: '' };
    const next = this.answers.length > 1 ? this.answers.shift()! : this.answers[0];
    if (next instanceof Error) throw next;
    return next;
  }
  async reconnect(): Promise<void> {
    this.reconnects++;
  }
  async close(): Promise<void> {}
}
const id = (s: string): ExecResult => ({ code: 0, stdout: `${s}\n`, stderr: '' });

describe('reboot step and waitForNewBootId (scripted fake transport)', () => {
  it('dry run reads the boot_id and triggers nothing', async () => {
    const t = new ScriptedSsh([id('old-1')]);
    expect(await rebootStep.checkApply({}, makeCtx(t, false))).toEqual({
      action: 'run',
      summary: 'reboot (boot_id old-1)',
    });
    // the lent-RAM check (a framed probe of nvmet's exports), then the boot_id
    expect(t.scripts).toHaveLength(2);
    expect(t.scripts[0]).toMatch(/rp_frame lends\n.*nvmet\/subsystems/);
    expect(t.scripts[1]).toBe('cat /proc/sys/kernel/random/boot_id');
  });

  it('refuses a host that lends RAM (live nvmet exports of ours), in a dry run too, naming drain; ignore_lent_ram reboots anyway', async () => {
    const lends = ['nqn.2026-11.io.ramster-provision:lab:lend:node1-to-node0'];
    for (const apply of [false, true]) {
      const t = new ScriptedSsh([id('old-1')], lends);
      await expect(rebootStep.checkApply({}, makeCtx(t, apply))).rejects.toThrow(
        /^node0 lends RAM to node 0 .*Run ramster-provision drain -i <inventory> --limit node0 first/,
      );
      expect(t.scripts.length).toBe(1); // the check only: nothing triggered, not even the boot_id read
    }
    const t = new ScriptedSsh([id('old-1')], lends);
    expect(await rebootStep.checkApply({ ignore_lent_ram: true }, makeCtx(t, false))).toEqual({
      action: 'run',
      summary: 'reboot (boot_id old-1)',
    });
  });

  it('apply triggers a detached reboot and returns the dry run change once a new boot_id answers', async () => {
    const t = new ScriptedSsh([id('old-1'), id('old-1'), new Error('connection refused'), id(''), id('new-2')]);
    expect(await rebootStep.checkApply({ timeout_s: 30 }, makeCtx(t, true))).toEqual({
      action: 'run',
      summary: 'reboot (boot_id old-1)',
    });
    expect(t.scripts[2]).toContain('systemd-run --on-active=1 systemctl reboot'); // after the lent-RAM check and the boot_id
    expect(t.scripts[2]).toContain("nohup sh -c 'sleep 1; reboot' >/dev/null 2>&1");
    expect(t.reconnects).toBe(4); // old id, refused, empty, new
  });

  it('keeps waiting while the old boot_id answers (strict comparison) and times out saying how long', async () => {
    const t = new ScriptedSsh([id('old-1')]);
    const started = Date.now();
    await expect(waitForNewBootId(t, 'old-1', { timeoutMs: 2500, connectTimeoutMs: 1000 })).rejects.toThrow(
      /^root@fake:22 did not come back with a new boot_id within [23] s \(timeout 3 s; last: still the old boot_id \(not rebooted yet\)\)/,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(2400);
    expect(
      await waitForNewBootId(new ScriptedSsh([id('old-1 ')]), 'old-1', {
        timeoutMs: 1500,
        connectTimeoutMs: 500,
      }).catch((e: Error) => e.message),
    ).toMatch(/did not come back/);
  });

  it('never waits out a host key error', async () => {
    const t = new ScriptedSsh([new HostKeyError('host key for fake changed')]);
    const started = Date.now();
    await expect(waitForNewBootId(t, 'old-1', { timeoutMs: 30_000, connectTimeoutMs: 1000 })).rejects.toThrow(
      'host key for fake changed',
    );
    expect(Date.now() - started).toBeLessThan(30_000); // not waited out: the timeout is 30 s
  });
});
