/**
 * `backend: modern` end to end on two real QEMU guests, on Debian 13 (kernel 6.12) and on Debian 12
 * (kernel 6.1): node1 (node 0, 512 MiB RAM) swaps onto node2's RAM over NVMe/TCP on the private
 * cluster link. Plan, apply,
 * verify, a no-op second apply; a workload well beyond node1's RAM with its data checked while
 * node2 holds the pages; discard giving node2's memory back; a reboot of node1 while its pages
 * are remote (bounded, swap off then disconnect before the network goes down, converged after);
 * then the symmetric topology. On Debian 13 each pair authenticates with DH-HMAC-CHAP: a fourth
 * party claiming the borrower's host NQN without the keys is refused, and a key rotation goes
 * through on the live connection; on Debian 12 (no NVMe auth in 6.1) the lab says `auth: none`
 * and `auth: dhchap` is refused. Swap pages are encrypted on the borrower (dm-crypt, the default): a
 * marked workload's pages are found neither in a capture of the cluster link nor in the lender's
 * tmpfs file, and in a control run with `encryption: none` they are found in both.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { rebootGuest, guestOf } from '../../src/lab/index.ts';
import { changedSteps, cli, cliJson, explain, hostOf } from './cli.ts';
import { onGuest, type TestLab } from './helpers.ts';
import { NETWORK_DOWN, ensurePersistentJournal, previousBootJournal } from './journal.ts';
import {
  expectApplyChangesNothing,
  markerSeenByLender,
  modernDistros,
  modernInventory,
  modernStatusOf,
  startWorkload,
  waitWorkload,
} from './modern-helpers.ts';
import { randomBytes } from 'node:crypto';
import { labSuite } from './suite.ts';
import { labLimit } from '../helpers/machine.ts';
import { dhchapKeyProblem, generateDhchapKey } from '../../src/modern/auth.ts';
import { hostNqn, subsystemNqn } from '../../src/modern/plan.ts';

const BORROWER = 'node1';
const LENDER = 'node2';
const SETTINGS = { topology: 'one-way', lend_mb: 768, zswap_compressor: 'lz4', zswap_max_pool_percent: 20 };
/** MiB the workload writes: well beyond the borrower's 512 MiB of RAM. */
const WORKLOAD_MIB = 640;

// Debian 13 (kernel 6.12, the release NVMe authentication and TLS need) and Debian 12 (6.1);
// the CI tier runs Debian 13 only (RAMSTER_MODERN_DISTROS=trixie in test:integration:ci) to stay
// inside CI's time limit.
const DISTROS = modernDistros('trixie,bookworm');

describe.each(DISTROS)('modern backend on a two-node lab (Debian %s)', (distro) => {
  const suite = labSuite(`modern-${distro}`, { backend: 'modern', guestMemoryMb: [512, 1024], distro });
  const timings = suite.timings;
  let lab: TestLab;
  let inventory: string;
  /** The settings of `inventory` (the rotation changes them on Debian 13). */
  let settings: Record<string, unknown> = SETTINGS;
  /** Everything the first apply printed (human text on stderr, the --json document on stdout). */
  let applyOutput = '';

  beforeAll(() => {
    lab = suite.lab();
    inventory = modernInventory(lab, 'one-way', SETTINGS);
  });

  it(
    'plan on fresh guests: exit 2, the live steps show the exports and the swap they will create',
    timings.timed('plan', async () => {
      const plan = await cliJson(['plan', '-i', inventory]);
      expect(plan.code, explain(plan)).toBe(2);
      const lend = hostOf(plan.result, LENDER).steps.find((s) => s.type === 'modern_lend')!;
      expect(lend.change?.diff).toContain('+port 4420 listens on 10.99.0.12:4420 (tcp, ipv4)');
      expect(lend.change?.diff).toMatch(/\+export \S+:lend:node1-to-node0 to \S+:node0 only/);
      const borrow = hostOf(plan.result, BORROWER).steps.find((s) => s.type === 'modern_borrow')!;
      expect(borrow.change?.diff).toMatch(/\+connected to \S+:lend:node1-to-node0 at 10\.99\.0\.12:4420 \(live\)/);
      // dm-crypt (the default) over the namespace, the swap on the mapping
      expect(borrow.change?.diff).toMatch(
        /\+dm-crypt \/dev\/mapper\/ramster-swap-crypt \(.*\) over namespace \S+:lend:node1-to-node0/,
      );
      expect(borrow.change?.diff).toContain('+swap on dm-crypt /dev/mapper/ramster-swap-crypt');
      // A plan changes nothing on the guests.
      expect(
        (
          await onGuest(
            lab.state,
            LENDER,
            'ls /sys/kernel/config/nvmet 2>/dev/null | wc -l; ls /etc/ramster 2>/dev/null | wc -l',
          )
        ).trim(),
      ).toBe('0\n0');
    }),
    labLimit(300_000),
  );

  it(
    'apply converges, verify passes every check, a second apply changes nothing',
    timings.timed('apply', async () => {
      const apply = await cliJson(['apply', '-i', inventory], labLimit(900_000));
      expect(apply.code, explain(apply)).toBe(0);
      applyOutput = apply.stdout + apply.stderr;
      const verify = await cli(['verify', '-i', inventory]);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      applyOutput += verify.stdout + verify.stderr;
      expect(verify.stdout).toMatch(/PASS {2}connected to node2 \(node 1, 10\.99\.0\.12:4420\)/);
      expect(verify.stdout).toMatch(
        /PASS {2}swap on remote RAM, before any local swap {2}\[\/dev\/dm-\d+ priority 32767/,
      );
      const again = await cliJson(['apply', '-i', inventory], labLimit(600_000));
      expect(again.code, explain(again)).toBe(0);
      applyOutput += again.stdout + again.stderr;
      for (const h of again.result.hosts)
        expect(
          changedSteps(h).map((s) => s.step),
          h.host,
        ).toEqual([]);
    }),
    labLimit(1_200_000),
  );

  // Debian 12's kernel has no NVMe in-band authentication: its lab inventory says `auth: none`.
  it.runIf(distro === 'trixie')(
    'DH-HMAC-CHAP: the borrower is connected with both keys; a fourth party presenting its host NQN without them (or with other keys) is refused, with them accepted; the key files are 0600 on the two nodes only and in no output',
    timings.timed('auth', async () => {
      const file = '/etc/ramster/auth/ramster-node1-to-node0.keys';
      const sub = subsystemNqn('ramster', 1, 0);
      const borrowerNqn = hostNqn('ramster', 0);
      const keysOn = async (node: string) =>
        (
          await onGuest(
            lab.state,
            node,
            `stat -c '%a %U' /etc/ramster/auth ${file}; sed -n 's/^\\(host\\|ctrl\\) //p' ${file}`,
          )
        )
          .trim()
          .split('\n');
      const [bDir, bFile, bHost, bCtrl] = await keysOn(BORROWER);
      const [lDir, lFile, lHost, lCtrl] = await keysOn(LENDER);
      expect([bDir, bFile, lDir, lFile]).toEqual(['700 root', '600 root', '700 root', '600 root']);
      expect([lHost, lCtrl]).toEqual([bHost, bCtrl]);
      expect(dhchapKeyProblem(bHost)).toBeUndefined();
      expect(dhchapKeyProblem(bCtrl)).toBeUndefined();
      expect(bHost).not.toBe(bCtrl);
      // never printed: not in the applies' and verify's text nor in their --json documents
      const plan = await cliJson(['plan', '-i', inventory]);
      for (const key of [bHost, bCtrl]) {
        expect(applyOutput.includes(key), 'a key in the apply/verify output').toBe(false);
        expect((plan.stdout + plan.stderr).includes(key), 'a key in the plan output').toBe(false);
        expect(applyOutput.includes(key.slice(10, 40)), 'part of a key in the output').toBe(false);
      }
      // the lender holds the keys on the borrower's host entry; the borrower's controller uses them
      const lenderEntry = await onGuest(
        lab.state,
        LENDER,
        `h=/sys/kernel/config/nvmet/hosts/${borrowerNqn}; [ "$(cat $h/dhchap_key)" = "$(sed -n 's/^host //p' ${file})" ] && [ "$(cat $h/dhchap_ctrl_key)" = "$(sed -n 's/^ctrl //p' ${file})" ] && echo keys-match`,
      );
      expect(lenderEntry.trim()).toBe('keys-match');
      const borrowerCtrl = await onGuest(
        lab.state,
        BORROWER,
        `for c in /sys/class/nvme/nvme*; do [ "$(cat $c/subsysnqn)" = ${sub} ] && echo "$(cat $c/state) $( [ "$(cat $c/dhchap_secret)" = "$(sed -n 's/^host //p' ${file})" ] && echo host-key) $( [ "$(cat $c/dhchap_ctrl_secret)" = "$(sed -n 's/^ctrl //p' ${file})" ] && echo ctrl-key)"; done`,
      );
      expect(borrowerCtrl.trim()).toBe('live host-key ctrl-key');
      const verify = await cli(['verify', '-i', inventory]);
      expect(verify.stdout).toMatch(/PASS {2}node2 \(node 1\) authenticated with DH-HMAC-CHAP both ways/);
      expect(verify.stdout.includes(bHost) || verify.stdout.includes(bCtrl)).toBe(false);
      // a fourth party on the cluster network (the lender's own host side, 10.99.0.12) claims the
      // borrower's host NQN under a host ID of its own
      const claim = (extra: string) =>
        onGuest(
          lab.state,
          LENDER,
          `modprobe nvme-tcp; id=$(cat /proc/sys/kernel/random/uuid); if echo "transport=tcp,traddr=10.99.0.12,trsvcid=4420,nqn=${sub},hostnqn=${borrowerNqn},hostid=$id${extra}" > /dev/nvme-fabrics 2>/tmp/claim.err; then echo ACCEPTED; for c in /sys/class/nvme/nvme*; do [ "$(cat $c/subsysnqn)" = ${sub} ] && echo 1 > $c/delete_controller; done; else echo "REFUSED $(cat /tmp/claim.err)"; fi`,
          labLimit(180_000),
        );
      const noKeys = await claim('');
      expect(noKeys, 'the lender let in a host that has no keys').toMatch(/^REFUSED/);
      const otherKeys = await claim(`,dhchap_secret=${generateDhchapKey()},dhchap_ctrl_secret=${generateDhchapKey()}`);
      expect(otherKeys, 'the lender let in a host with other keys').toMatch(/^REFUSED/);
      // the control: with the pair's keys the same claim is let in (so the refusals are the keys')
      const sameKeys = await claim(`,dhchap_secret=${bHost},dhchap_ctrl_secret=${bCtrl}`);
      expect(sameKeys).toMatch(/^ACCEPTED/);
      // the borrower still swaps on the lender, authenticated
      const still = await modernStatusOf(inventory);
      expect(still[BORROWER].connections).toBe('node2 live');
    }),
    labLimit(900_000),
  );

  it.runIf(distro === 'trixie')(
    'rotation: auth_rotation 1 and apply gives both nodes new keys, a controller with them replaces the old one under the same swap device (make before break) while the pages of a workload are remote, and they read back intact; verify passes, a second apply changes nothing',
    timings.timed('rotation', async () => {
      const file = '/etc/ramster/auth/ramster-node1-to-node0.keys';
      const sub = subsystemNqn('ramster', 1, 0);
      const keysOf = async (node: string) => (await onGuest(lab.state, node, `cat ${file}`)).replace(/^#.*\n/m, '');
      const before = await keysOf(BORROWER);
      const pathsOf = () =>
        onGuest(
          lab.state,
          BORROWER,
          `for c in /sys/class/nvme/nvme*; do [ "$(cat $c/subsysnqn)" = ${sub} ] && echo "\${c##*/}"; done; d=$(awk 'NR > 1 && $5 == 32767 { print $1 }' /proc/swaps); b=$(readlink -f "$d"); echo "$d $(ls /sys/block/\${b##*/}/slaves 2>/dev/null | tr '\\n' ' ')"`,
        );
      const [ctrlBefore, swapBefore] = (await pathsOf()).trim().split('\n');
      // pages written through the old controller, read back through the new one
      const w = await startWorkload(lab, BORROWER, {
        mib: 192,
        holdS: 86_400,
        memoryMaxMb: 64,
        unit: 'ramster-rotation-workload',
      });
      await waitWorkload(lab, BORROWER, w, /^written/m, labLimit(900_000));
      expect((await modernStatusOf(inventory))[BORROWER].remote_pages).toBeGreaterThan(0);
      const rotated = modernInventory(lab, 'rotated', { ...SETTINGS, auth_rotation: 1 });
      const apply = await cliJson(['apply', '-i', rotated], labLimit(900_000));
      expect(apply.code, explain(apply)).toBe(0);
      expect(changedSteps(hostOf(apply.result, LENDER)).map((x) => x.type)).toContain('modern_lend');
      expect(changedSteps(hostOf(apply.result, BORROWER)).map((x) => x.type)).toContain('modern_borrow');
      const [lenderKeys, borrowerKeys] = [await keysOf(LENDER), await keysOf(BORROWER)];
      expect(borrowerKeys).toBe(lenderKeys);
      expect(borrowerKeys).toMatch(/^rotation 1$/m);
      expect(borrowerKeys).not.toBe(before);
      for (const line of borrowerKeys.split('\n').filter((l) => /^(host|ctrl) /.test(l)))
        expect((apply.stdout + apply.stderr).includes(line.slice(5)), 'a new key in the output').toBe(false);
      const ctrl = await onGuest(
        lab.state,
        BORROWER,
        `for c in /sys/class/nvme/nvme*; do [ "$(cat $c/subsysnqn)" = ${sub} ] && echo "$(cat $c/state) $( [ "$(cat $c/dhchap_secret)" = "$(sed -n 's/^host //p' ${file})" ] && echo new-host-key) $(awk 'NR > 1 && $5 == 32767' /proc/swaps | wc -l)"; done`,
      );
      expect(ctrl.trim()).toBe('live new-host-key 1');
      // make before break: a new controller took the keys, the swap stayed on the same head device
      const [ctrlAfter, swapAfter] = (await pathsOf()).trim().split('\n');
      expect(ctrlAfter).not.toBe(ctrlBefore);
      expect(swapAfter).toBe(swapBefore);
      // the remote swap: the namespace's head device, or the dm-crypt mapping over it
      expect(swapBefore).toMatch(/^\/dev\/nvme\d+n1$|^\/dev\/(dm-\d+|mapper\/\S+) nvme\d+n1$/);
      await onGuest(lab.state, BORROWER, `systemctl kill -s USR1 --kill-whom=main ${w.unit}`);
      expect(await waitWorkload(lab, BORROWER, w, /^(ok|BAD)/m, labLimit(900_000))).toMatch(/^ok /m);
      const verify = await cli(['verify', '-i', rotated]);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      await expectApplyChangesNothing(rotated, labLimit(600_000));
      // the cases below run on the rotated keys
      inventory = rotated;
      settings = { ...SETTINGS, auth_rotation: 1 };
    }),
    labLimit(1_800_000),
  );

  it.runIf(distro === 'bookworm')(
    'auth: dhchap on Debian 12 (kernel 6.1, no NVMe in-band authentication) is refused, naming the kernel and the fixes; nothing changes',
    timings.timed('authRefused', async () => {
      const dhchap = modernInventory(lab, 'dhchap', { ...SETTINGS, auth: 'dhchap' });
      const apply = await cliJson(['apply', '-i', dhchap, '--tags', 'lend,borrow'], labLimit(600_000));
      expect(apply.code, explain(apply)).toBe(3);
      const lend = hostOf(apply.result, LENDER).steps.find((x) => x.type === 'modern_lend')!;
      expect(lend.status).toBe('failed');
      expect(lend.message).toMatch(
        /kernel 6\.1\.\S+ on node2 has no NVMe in-band authentication \(CONFIG_NVME_TARGET_AUTH is not set/,
      );
      expect(lend.message).toMatch(/Debian 13/);
      expect(lend.message).toMatch(/`auth: none`/);
      expect(changedSteps(hostOf(apply.result, LENDER))).toEqual([]);
      expect(changedSteps(hostOf(apply.result, BORROWER))).toEqual([]);
      expect((await onGuest(lab.state, LENDER, 'ls /etc/ramster/auth 2>/dev/null | wc -l')).trim()).toBe('0');
    }),
    labLimit(900_000),
  );

  it(
    "confidentiality: with dm-crypt (the default) a marked workload in remote swap is in neither a capture of the cluster link nor the lender's tmpfs file, and its key in no output or file; a control run with encryption: none finds it in both; back to dm-crypt with a new key",
    timings.timed('confidentiality', async () => {
      const seen = (markerHex: string) =>
        markerSeenByLender(lab, {
          borrower: BORROWER,
          lender: LENDER,
          lenderAddress: '10.99.0.12',
          file: '/run/ramster-lend/node0.img',
          markerHex,
        });
      const verify = await cli(['verify', '-i', inventory]);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      expect(verify.stdout).toMatch(
        /PASS {2}pages to node2 \(node 1\) leave encrypted \(dm-crypt, key made at boot\) {2}\[swap on \/dev\/mapper\/ramster-swap-crypt \(aes-xts-plain64\) over nvme\dn1\]/,
      );
      const status = await cli(['status', '-i', inventory, '--json']);
      expect(JSON.parse(status.stdout).hosts[BORROWER].encryption).toBe('node2 dm-crypt');
      // the key: 64 random bytes in the kernel only (read here with --showkeys, for this check)
      const table = `dmsetup table --showkeys ramster-swap-crypt | awk '{ print $5 }'`;
      const key = (await onGuest(lab.state, BORROWER, table)).trim();
      expect(key).toMatch(/^[0-9a-f]{128}$/);
      for (const text of [applyOutput, verify.stdout + verify.stderr, status.stdout + status.stderr])
        expect(text.includes(key.slice(0, 32)), 'the dm-crypt key in the tool output').toBe(false);
      const leaks = await onGuest(
        lab.state,
        BORROWER,
        `${table} > /run/k; dmsetup table ramster-swap-crypt | grep -cF -f /run/k; journalctl -b -o cat --no-pager | grep -cF -f /run/k; grep -rlF -f /run/k /etc /var/lib /var/log /root 2>/dev/null; rm -f /run/k; true`,
        labLimit(300_000),
      );
      expect(leaks.trim(), 'the key in dmsetup table, the journal or a file').toBe('0\n0');

      const encrypted = await seen(randomBytes(24).toString('hex'));
      console.log('confidentiality, dm-crypt:', JSON.stringify(encrypted));
      expect(encrypted.swapUsedKb, JSON.stringify(encrypted)).toBeGreaterThan(32 * 1024);
      expect(encrypted.capture.bytes, JSON.stringify(encrypted)).toBeGreaterThan(32 << 20);
      expect(encrypted.file.bytes, JSON.stringify(encrypted)).toBeGreaterThan(32 << 20);
      expect(encrypted.capture.marker, 'frames with the marker on the cluster link').toBe(0);
      expect(encrypted.file.marker, "the marker in the lender's tmpfs file").toBe(0);

      // the control: the same run in clear finds the marker in both (so the searches can fail)
      const clear = modernInventory(lab, 'clear', { ...settings, encryption: 'none' });
      const toClear = await cliJson(['apply', '-i', clear], labLimit(900_000));
      expect(toClear.code, explain(toClear)).toBe(0);
      expect(changedSteps(hostOf(toClear.result, BORROWER)).map((x) => x.type)).toContain('modern_borrow');
      const warned = await cli(['verify', '-i', clear]);
      expect(warned.code, warned.stdout + warned.stderr).toBe(0);
      expect(warned.stdout).toMatch(/WARN {2}node2 \(node 1\): pages leave unencrypted/);
      expect((await modernStatusOf(clear))[BORROWER].encryption).toBe('node2 none');
      const control = await seen(randomBytes(24).toString('hex'));
      console.log('confidentiality, encryption none:', JSON.stringify(control));
      expect(control.capture.marker, JSON.stringify(control)).toBeGreaterThan(0);
      expect(control.file.marker, JSON.stringify(control)).toBeGreaterThan(0);

      // back to dm-crypt: the swap comes home, and goes out again under a new key
      const back = await cliJson(['apply', '-i', inventory], labLimit(900_000));
      expect(back.code, explain(back)).toBe(0);
      const again = await cli(['verify', '-i', inventory]);
      expect(again.code, again.stdout + again.stderr).toBe(0);
      expect(again.stdout).toMatch(/PASS {2}pages to node2 \(node 1\) leave encrypted/);
      const newKey = (await onGuest(lab.state, BORROWER, table)).trim();
      expect(newKey).toMatch(/^[0-9a-f]{128}$/);
      expect(newKey === key, 'the same key after the mapping was made again').toBe(false);
    }),
    labLimit(2_400_000),
  );

  it(
    `a ${WORKLOAD_MIB} MiB workload on the 512 MiB node: its pages sit on node2, status shows both sides, the data reads back intact, and discard gives node2's RAM back`,
    timings.timed('workload', async () => {
      const w = await startWorkload(lab, BORROWER, { mib: WORKLOAD_MIB, holdS: 45, memoryMaxMb: 192 });
      await waitWorkload(lab, BORROWER, w, /^written/m, labLimit(900_000));
      const during = await modernStatusOf(inventory);
      expect(during[BORROWER].remote_pages, JSON.stringify(during)).toBeGreaterThan(0);
      expect(during[LENDER].foreign_pages, JSON.stringify(during)).toBeGreaterThan(0);
      expect(during[BORROWER].connections).toBe('node2 live');
      const table = await cli(['status', '-i', inventory]);
      expect(table.stdout).toMatch(
        new RegExp(`^node1 +modern +borrows from node2 +${during[BORROWER].remote_pages} `, 'm'),
      );
      expect(table.stdout).toMatch(/^node2 +modern +lends to node1 +0 +[1-9]\d* /m);

      const out = await waitWorkload(lab, BORROWER, w, /^(ok|BAD)/m, labLimit(1_200_000));
      expect(out).toMatch(/^ok /m);
      const peak = during[LENDER].foreign_pages;
      let held = peak;
      for (let i = 0; i < 40 && held > peak / 4; i++) {
        await new Promise((r) => setTimeout(r, 3000));
        held = (await modernStatusOf(inventory))[LENDER].foreign_pages;
      }
      expect(held, `node2 still holds ${held} of ${peak} pages after the workload ended`).toBeLessThanOrEqual(peak / 4);
    }),
    labLimit(2_400_000),
  );

  it(
    'reboot node1 while its pages are remote: it comes back in bounded time; swap off, then disconnect, before the network went down; then changed == 0',
    timings.timed('reboot', async () => {
      await ensurePersistentJournal(lab.state, BORROWER);
      const w = await startWorkload(lab, BORROWER, { mib: 400, holdS: 3600, memoryMaxMb: 160 });
      await waitWorkload(lab, BORROWER, w, /^written/m, labLimit(900_000));
      expect((await modernStatusOf(inventory))[BORROWER].remote_pages).toBeGreaterThan(0);
      const r = await rebootGuest(lab.state, guestOf(lab.state, BORROWER), { timeoutMs: labLimit(600_000) });
      expect(r.bootIdAfter).not.toBe(r.bootIdBefore);
      timings.set('rebootWithRemotePages', r.ms);

      const journal = await previousBootJournal(lab.state, BORROWER);
      const at = (re: RegExp) => journal.find((e) => re.test(e.message))?.index ?? -1;
      const swapOff = at(/^ramster-modern: swap off/);
      const disconnect = at(/^ramster-modern: disconnected nvme\d+ from node 1/);
      const networkDown = at(NETWORK_DOWN);
      expect(
        [swapOff, disconnect, networkDown].every((i) => i >= 0),
        JSON.stringify({ swapOff, disconnect, networkDown }),
      ).toBe(true);
      expect(swapOff).toBeLessThan(disconnect);
      expect(disconnect).toBeLessThan(networkDown);

      const apply = await cliJson(['apply', '-i', inventory], labLimit(900_000));
      expect(apply.code, explain(apply)).toBe(0);
      for (const h of apply.result.hosts)
        expect(
          changedSteps(h).map((s) => s.step),
          h.host,
        ).toEqual([]);
    }),
    labLimit(1_800_000),
  );

  it(
    'symmetric: each node lends to and borrows from the other; converges, verify passes, a second apply changes nothing',
    timings.timed('symmetric', async () => {
      const sym = modernInventory(lab, 'symmetric', { ...SETTINGS, topology: 'symmetric' });
      const apply = await cliJson(['apply', '-i', sym], labLimit(900_000));
      expect(apply.code, explain(apply)).toBe(0);
      const verify = await cli(['verify', '-i', sym]);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      const status = await modernStatusOf(sym);
      expect(status[BORROWER].role).toBe('borrows from node2, lends to node2');
      expect(status[LENDER].role).toBe('borrows from node1, lends to node1');
      const again = await cliJson(['apply', '-i', sym], labLimit(600_000));
      for (const h of again.result.hosts)
        expect(
          changedSteps(h).map((s) => s.step),
          h.host,
        ).toEqual([]);
    }),
    labLimit(1_200_000),
  );
});
