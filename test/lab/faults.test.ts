/**
 * Faults on a real QEMU guest: a reboot that never comes back. The reboot step really reboots
 * the guest; the lab's supervisor is told beforehand not to start QEMU again (its `stop`
 * marker), so the machine goes down and stays down, as a host whose boot hangs would.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LOCK_PATH } from '../../src/engine/hostlock.ts';
import { PENDING_PATH } from '../../src/engine/pending.ts';
import {
  guestOf,
  qemuRunning,
  readBootId,
  sshTarget,
  startGuest,
  supervisorRunning,
  waitForSsh,
} from '../../src/lab/index.ts';
import { waitFor } from '../../src/guestimage/process.ts';
import { cliJson, explain, hostOf, parseRun, startCli } from './cli.ts';
import { onGuest, type TestLab } from './helpers.ts';
import { labSuite } from './suite.ts';
import { labLimit } from '../helpers/machine.ts';

const TIMEOUT_S = 60;

describe('lab faults: a reboot that never comes back', () => {
  const suite = labSuite('faults', { nodes: 1 });
  const timings = suite.timings;
  let lab: TestLab;

  beforeAll(() => {
    lab = suite.lab();
  });

  it(
    'the reboot handler times out naming the timeout, the host fails (exit 3), nothing hangs; once the host is back the pending reboot fires and the run converges',
    timings.timed('rebootNeverBack', async () => {
      const g = guestOf(lab.state, 'node1');
      /** The same play each time (the pending reboot is kept under its name); only the
       *  reboot's timeout differs. */
      const playbookWith = (timeoutS: number) => {
        const f = join(lab.dir, `reboot-${timeoutS}.yaml`);
        writeFileSync(
          f,
          `- name: a change that needs a reboot
  hosts: all
  steps:
    - name: marker
      file: {path: /var/lib/rp-lab-fault/marker, content: "needs a reboot\\n", mode: "0644"}
      notify: [reboot]
    - name: after the marker
      file: {path: /var/lib/rp-lab-fault/after, content: "after\\n", mode: "0644"}
  handlers:
    - name: reboot
      reboot: {timeout_s: ${timeoutS}, connect_timeout_s: 5}
`,
        );
        return f;
      };
      const playbook = playbookWith(TIMEOUT_S);
      const bootBefore = await readBootId(sshTarget(lab.state, g));
      expect(bootBefore).toMatch(/^[0-9a-f-]{36}$/);

      // From here a reboot of the guest ends it: the supervisor does not start QEMU again.
      writeFileSync(join(g.dir, 'stop'), '');
      const started = Date.now();
      const r = await startCli(['apply', '-i', lab.state.inventory, playbook, '--json'], labLimit(600_000));
      const ms = Date.now() - started;
      timings.set('rebootNeverBack.apply', ms);
      const run = { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), ms };
      const res = parseRun(run);
      expect(r.timedOut, 'the apply hung').toBe(false);
      expect(run.code, explain({ ...run, result: res })).toBe(3);
      // Bounded by the step's timeout (plus the reboot itself, connect attempts and CLI start,
      // which a loaded machine stretches).
      expect(ms).toBeLessThan(TIMEOUT_S * 1000 + labLimit(180_000));

      // The guest really went down through the reboot (a slow shutdown may still be ending),
      // and stayed down.
      expect(
        await waitFor(() => !qemuRunning(g) && !supervisorRunning(g), labLimit(180_000)),
        'QEMU still running',
      ).toBe(true);
      expect(readFileSync(g.consoleLog, 'utf8')).toMatch(/reboot: Restarting system/);

      const h = hostOf(res, 'node1');
      expect(h.status).toBe('failed');
      expect(h.steps.map((s) => [s.step, s.status, s.handler])).toEqual([
        ['marker', 'changed', false],
        ['after the marker', 'changed', false],
        ['reboot', 'failed', true],
      ]);
      const message = new RegExp(
        `did not come back with a new boot_id within \\d+ s \\(timeout ${TIMEOUT_S} s; last: .+\\); check the console, or raise timeout_s`,
      );
      expect(h.steps[2].message).toMatch(message);
      expect(h.error).toMatch(message);
      expect(res.totals).toMatchObject({ hosts: 1, failed: 1, unreachable: 0 });
      // The human recap (stderr with --json) says it for the host.
      expect(run.stderr).toMatch(/^node1\s+failed\s/m);
      expect(run.stderr).toMatch(message);

      // Power the host on (as an operator would); its lock is from a boot that is over.
      const bootStart = Date.now();
      await startGuest(lab.state, g);
      await waitForSsh(sshTarget(lab.state, g), { timeoutMs: labLimit(600_000), isAlive: () => supervisorRunning(g) });
      timings.set('rebootNeverBack.restartGuest', Date.now() - bootStart);
      const bootRestarted = await readBootId(sshTarget(lab.state, g));
      expect(bootRestarted).not.toBe(bootBefore);
      const leftBehind = await onGuest(
        lab.state,
        'node1',
        `grep '^boot_id=' ${LOCK_PATH} 2>/dev/null; cat ${PENDING_PATH}`,
      );
      expect(leftBehind, 'the lock of the lost boot and the pending reboot are on disk').toContain(
        `boot_id=${bootBefore}`,
      );
      expect(leftBehind).toContain('"reboot"');

      // The next apply, with the timeout raised as the message says (a cold boot under TCG
      // takes about as long as TIMEOUT_S), takes over the stale lock, fires the pending
      // reboot (this time the guest comes back), and converges; the one after changes nothing.
      const patient = playbookWith(900);
      const again = await cliJson(['apply', '-i', lab.state.inventory, patient], labLimit(1_200_000));
      timings.set('rebootNeverBack.reapply', again.ms);
      expect(again.code, explain(again)).toBe(0);
      const h2 = hostOf(again.result, 'node1');
      expect(h2.steps.filter((s) => s.status === 'changed').map((s) => [s.step, s.handler])).toEqual([
        ['reboot', true],
      ]);
      const bootAfter = await readBootId(sshTarget(lab.state, g));
      expect(bootAfter).not.toBe(bootRestarted);
      const third = await cliJson(['apply', '-i', lab.state.inventory, patient]);
      expect(third.code, explain(third)).toBe(0);
      expect(hostOf(third.result, 'node1').counts.changed).toBe(0);
      expect(
        (
          await onGuest(
            lab.state,
            'node1',
            `test -e ${LOCK_PATH} && echo lock; test -s ${PENDING_PATH} && cat ${PENDING_PATH}; echo end`,
          )
        ).trim(),
      ).toMatch(/^(\{\})?\s*end$/);
    }),
  );
});
