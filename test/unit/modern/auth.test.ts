/** DH-HMAC-CHAP of the modern backend (issue 14 item 2): settings, the DHHC-1 key format, the
 *  key files on the two nodes of a pair (made on the lender, shared in memory, copied to the
 *  borrower), redaction, the refusal on kernels without NVMe auth, state lines and verify. */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { computeTargets } from '../../../src/cluster/topology.ts';
import {
  authRefusal,
  dhchapKeyProblem,
  generateDhchapKey,
  keyDigest,
  newPairKeys,
  parsePairKeys,
  renderPairKeys,
} from '../../../src/modern/auth.ts';
import { renderModernConf } from '../../../src/modern/conf.ts';
import { type ModernCluster, modernSettings } from '../../../src/modern/model.ts';
import { modernPlan } from '../../../src/modern/plan.ts';
import { parseModernProbe } from '../../../src/modern/probe.ts';
import { framesOf } from '../../helpers/frames.ts';
import { actualBorrowLines, actualLendLines, desiredBorrowLines, desiredLendLines } from '../../../src/modern/state.ts';
import { modernStatus, verifyModernNode } from '../../../src/modern/verify.ts';
import { makeRedactor, MASK } from '../../../src/redact.ts';
import { borrowerKeyFiles, lenderKeyFiles } from '../../../src/steps/modern/keys.ts';
import type { StepContext } from '../../../src/steps/types.ts';
import { LocalTransport } from '../../../src/transport/local.ts';
import { makeCtx, tempRoot } from '../steps/helpers.ts';

/** crc32 (IEEE, reflected, as zlib and the kernel's ~crc32(~0, ...)), written out bit by bit. */
function crc32Reference(buf: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of buf) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function cluster(options: Record<string, unknown> = {}): ModernCluster {
  const targets = computeTargets([0, 1], 'one-way', new Map(), 1);
  return {
    name: 'lab',
    group: 'lab',
    backend: 'modern',
    topology: 'one-way',
    modern: modernSettings(options),
    nodes: [0, 1].map((i) => ({
      host: `g${i}`,
      hostname: `g${i}`,
      number: i,
      clusterAddress: `10.99.0.${10 + i}`,
      targets: targets.get(i)!,
    })),
  };
}

describe('modern auth settings', () => {
  it('auth defaults to dhchap with rotation 0; auth: none and auth_rotation are read', () => {
    expect(modernSettings({})).toMatchObject({ auth: 'dhchap', authRotation: 0 });
    expect(modernSettings({ auth: 'none', auth_rotation: 3 })).toMatchObject({ auth: 'none', authRotation: 3 });
    // a value the schema refused (and reported) falls back to the default
    expect(modernSettings({ auth: 'tls', auth_rotation: -1 })).toMatchObject({ auth: 'dhchap', authRotation: 0 });
  });

  it('the plan names one key file per pair, the same on both nodes; auth: none names none', () => {
    const c = cluster();
    const [borrower, lender] = [modernPlan(c, c.nodes[0]), modernPlan(c, c.nodes[1])];
    expect(borrower.borrows[0].authFile).toBe('/etc/ramster/auth/lab-node1-to-node0.keys');
    expect(lender.lends[0].authFile).toBe(borrower.borrows[0].authFile);
    expect(renderModernConf(lender)).toMatch(
      /^lend 0 \S+ \S+ \S+ 1024 \/etc\/ramster\/auth\/lab-node1-to-node0\.keys$/m,
    );
    const none = cluster({ auth: 'none' });
    expect(modernPlan(none, none.nodes[0]).borrows[0].authFile).toBeUndefined();
    expect(renderModernConf(modernPlan(none, none.nodes[1]))).toMatch(/^lend 0 \S+ \S+ \S+ 1024 -$/m);
    expect(renderModernConf(modernPlan(none, none.nodes[0]))).toMatch(/^borrow 1 .* -1 - -$/m);
  });
});

describe('DHHC-1 keys', () => {
  it('DHHC-1:00:<base64(key || crc32(key) little-endian)>: with a 32-byte random key', () => {
    const key = Buffer.alloc(32, 7);
    const text = generateDhchapKey(32, () => key);
    const m = /^DHHC-1:00:([A-Za-z0-9+/=]+):$/.exec(text)!;
    expect(m).not.toBeNull();
    const raw = Buffer.from(m[1], 'base64');
    expect(raw.length).toBe(36);
    expect(raw.subarray(0, 32).equals(key)).toBe(true);
    expect(raw.readUInt32LE(32)).toBe(crc32Reference(key));
    // the reference crc is the standard one: crc32("123456789") = cbf43926
    expect(crc32Reference(Buffer.from('123456789')).toString(16)).toBe('cbf43926');
    expect(dhchapKeyProblem(text)).toBeUndefined();
  });

  it('48 and 64 bytes too; every key is new; a bad crc, length or shape is told', () => {
    for (const n of [48, 64] as const) expect(dhchapKeyProblem(generateDhchapKey(n))).toBeUndefined();
    expect(generateDhchapKey()).not.toBe(generateDhchapKey());
    const good = generateDhchapKey(32, () => Buffer.alloc(32, 1));
    const raw = Buffer.from(good.slice(10, -1), 'base64');
    raw[0] ^= 1;
    expect(dhchapKeyProblem(`DHHC-1:00:${raw.toString('base64')}:`)).toMatch(/crc32/);
    expect(dhchapKeyProblem(`DHHC-1:00:${Buffer.alloc(20).toString('base64')}:`)).toMatch(/20 bytes/);
    expect(dhchapKeyProblem('hunter2')).toMatch(/DHHC-1/);
  });

  it('a key file round-trips; anything else is no key file', () => {
    const k = newPairKeys(2);
    expect(parsePairKeys(renderPairKeys(k, 'node 0 and node 1'))).toEqual(k);
    expect(parsePairKeys('rotation 1\nhost x\nctrl y\n')).toBeUndefined();
    expect(parsePairKeys('')).toBeUndefined();
  });
});

describe('redaction of keys made during a run', () => {
  it('a key registered with add() is masked from then on, in text, JSON and a cut summary', () => {
    const redact = makeRedactor([]);
    const key = generateDhchapKey();
    expect(redact(`connect ${key}`)).toContain(key);
    redact.add(key);
    expect(redact({ a: [`connect ${key}`] })).toEqual({ a: [`connect ${MASK}`] });
    expect(redact(JSON.stringify({ k: key }))).not.toContain(key.slice(10, -1));
    expect(redact(`x ${key.slice(0, 20)}…`)).toBe(`x ${MASK}…`);
  });
});

describe('refusal on a kernel without NVMe in-band authentication', () => {
  const c = cluster();
  const lender = modernPlan(c, c.nodes[1]);
  const borrower = modernPlan(c, c.nodes[0]);
  const probeOf = (config: string) =>
    parseModernProbe(framesOf(`@available\nkernel 6.1.0-28-amd64\n@auth\n${config}\n@end\n`));

  it("Debian 12's 6.1 (not set): both sides refuse, naming the kernel and both fixes", () => {
    // 6.1 names the host side CONFIG_NVME_AUTH (CONFIG_NVME_HOST_AUTH since 6.7)
    const p = probeOf('# CONFIG_NVME_AUTH is not set\n# CONFIG_NVME_TARGET_AUTH is not set');
    expect(p.auth).toMatchObject({ hostAuth: false, targetAuth: false });
    const lend = authRefusal(lender, p, 'g1', 'lend')!;
    expect(lend).toMatch(/^kernel 6\.1\.0-28-amd64 on g1 has no NVMe in-band authentication \(CONFIG_NVME_TARGET_AUTH/);
    expect(lend).toMatch(/Debian 13/);
    expect(lend).toMatch(/`auth: none`/);
    expect(authRefusal(borrower, p, 'g0', 'borrow')).toMatch(
      /CONFIG_NVME_HOST_AUTH, CONFIG_NVME_AUTH before Linux 6\.7, is not set/,
    );
    // a side the node does not have is not refused
    expect(authRefusal(borrower, p, 'g0', 'lend')).toBeUndefined();
  });

  it('Debian 13 (=y), a kernel with no /boot/config, or auth: none: no refusal', () => {
    const p = probeOf('CONFIG_NVME_AUTH=m\nCONFIG_NVME_HOST_AUTH=y\nCONFIG_NVME_TARGET_AUTH=y');
    expect(p.auth).toMatchObject({ hostAuth: true, targetAuth: true });
    expect(authRefusal(lender, p, 'g1', 'lend')).toBeUndefined();
    expect(authRefusal(lender, probeOf(''), 'g1', 'lend')).toBeUndefined();
    const none = cluster({ auth: 'none' });
    const off = probeOf('# CONFIG_NVME_TARGET_AUTH is not set');
    expect(authRefusal(modernPlan(none, none.nodes[1]), off, 'g1', 'lend')).toBeUndefined();
  });
});

describe('auth in the state lines and verify', () => {
  const c = cluster();
  const lender = modernPlan(c, c.nodes[1]);
  const borrower = modernPlan(c, c.nodes[0]);
  const file = lender.lends[0].authFile!;
  const keys = newPairKeys(0);
  const digests = new Map([[file, { host: keyDigest(keys.host), ctrl: keyDigest(keys.ctrl) }]]);
  const lenderProbe = (host: string, ctrl: string) =>
    parseModernProbe(
      framesOf(
        [
          '@nvmet',
          `subsystem ${lender.lends[0].subsystem} 0`,
          `allowed ${lender.lends[0].subsystem} ${lender.lends[0].hostNqn}`,
          '@auth',
          `hostkey ${lender.lends[0].hostNqn} ${host} ${ctrl}`,
          '@end',
        ].join('\n'),
      ),
    );

  it("the lender's host entry: these keys, other keys, or none", () => {
    const want = desiredLendLines(lender).find((l) => l.startsWith('host '))!;
    expect(want).toBe(`host ${lender.lends[0].hostNqn} authenticates with DH-HMAC-CHAP both ways (keys of ${file})`);
    const same = lenderProbe(keyDigest(keys.host), keyDigest(keys.ctrl));
    expect(actualLendLines(same, lender, digests)).toContain(want);
    const other = lenderProbe('0123456789ab', keyDigest(keys.ctrl));
    expect(actualLendLines(other, lender, digests)).toContain(
      `host ${lender.lends[0].hostNqn} authenticates with DH-HMAC-CHAP with other keys`,
    );
    expect(actualLendLines(lenderProbe('none', 'none'), lender, digests)).toContain(
      `host ${lender.lends[0].hostNqn} authenticates with no authentication`,
    );
    // no line names a key or its digest
    for (const l of [...desiredLendLines(lender), ...actualLendLines(same, lender, digests)])
      expect(l).not.toMatch(new RegExp(`${keyDigest(keys.host)}|DHHC`));
    const v = verifyModernNode(lender, same).find((x) => x.id === 'auth-lend-0')!;
    expect(v.status).toBe('pass');
    expect(verifyModernNode(lender, lenderProbe('none', 'none')).find((x) => x.id === 'auth-lend-0')!.status).toBe(
      'fail',
    );
  });

  it("the borrower's controller: authenticated both ways per connection; auth: none warns", () => {
    const sub = borrower.borrows[0].subsystem;
    const p = parseModernProbe(
      framesOf(
        `@controllers\nnvme0 tcp live ${sub} traddr=10.99.0.11,trsvcid=4420,src_addr=10.99.0.10\n@auth\nctrlkey nvme0 ${keyDigest(keys.host)} ${keyDigest(keys.ctrl)}\n@end\n`,
      ),
    );
    const line = desiredBorrowLines(borrower).find((l) => l.startsWith('connection to'))!;
    expect(actualBorrowLines(p, borrower, digests)).toContain(line);
    const check = verifyModernNode(borrower, p).find((x) => x.id === 'auth-1')!;
    expect(check).toMatchObject({ status: 'pass', title: 'g1 (node 1) authenticated with DH-HMAC-CHAP both ways' });
    expect(modernStatus(borrower, p).auth).toEqual({ g1: 'dhchap' });
    const none = cluster({ auth: 'none' });
    const open = verifyModernNode(modernPlan(none, none.nodes[0]), p).find((x) => x.id === 'auth-1')!;
    expect(open.status).toBe('warn');
    expect(open.evidence).toMatch(/auth: none/);
  });
});

describe('key files on the two nodes of a pair', () => {
  let lenderRoot: { dir: string; cleanup: () => Promise<void> };
  let borrowerRoot: { dir: string; cleanup: () => Promise<void> };
  beforeEach(async () => {
    lenderRoot = await tempRoot('rp-auth-lender-');
    borrowerRoot = await tempRoot('rp-auth-borrower-');
  });
  afterEach(async () => {
    await lenderRoot.cleanup();
    await borrowerRoot.cleanup();
  });

  function ctxs(apply: boolean, share: Map<string, unknown>, secrets: string[], members = ['g0', 'g1']) {
    const make = (root: string, host: string): StepContext => ({
      ...makeCtx(new LocalTransport(root), apply),
      host,
      secret: (s) => secrets.push(s),
      cluster: { members, share, exchange: async () => new Map() },
    });
    return { lender: make(lenderRoot.dir, 'g1'), borrower: make(borrowerRoot.dir, 'g0') };
  }

  it('made on the lender, copied to the borrower in the same run, 0600 in a 0700 directory; a second run keeps them; a rotation replaces them', async () => {
    const c = cluster();
    const [bp, lp] = [modernPlan(c, c.nodes[0]), modernPlan(c, c.nodes[1])];
    const file = lp.lends[0].authFile!;
    const secrets: string[] = [];
    const share = new Map<string, unknown>();
    const run1 = ctxs(true, share, secrets);
    const lk = await lenderKeyFiles(run1.lender, lp);
    expect(lk.actual).toEqual([]);
    expect(lk.desired).toEqual([`keys ${file}: rotation 0, mode 0600`]);
    await lk.write();
    const bk = await borrowerKeyFiles(run1.borrower, bp);
    await bk.write();
    const text = (root: string) => readFileSync(join(root, file), 'utf8');
    expect(text(borrowerRoot.dir)).toBe(text(lenderRoot.dir));
    const keys = parsePairKeys(text(lenderRoot.dir))!;
    expect(keys.rotation).toBe(0);
    for (const root of [lenderRoot.dir, borrowerRoot.dir]) {
      expect(statSync(join(root, file)).mode & 0o777).toBe(0o600);
      expect(statSync(join(root, '/etc/ramster/auth')).mode & 0o777).toBe(0o700);
    }
    // every key went to the redactor before it could be printed
    expect(secrets).toEqual(expect.arrayContaining([keys.host, keys.ctrl]));
    // nothing in the lines a diff shows
    for (const l of [...lk.desired, ...bk.desired, ...bk.actual]) expect(l).not.toContain('DHHC');

    // second run: both sides as they should be, nothing to write
    const run2 = ctxs(true, new Map(), []);
    const lk2 = await lenderKeyFiles(run2.lender, lp);
    const bk2 = await borrowerKeyFiles(run2.borrower, bp);
    expect(lk2.actual).toEqual(lk2.desired);
    expect(bk2.actual).toEqual(bk2.desired);
    expect(parsePairKeys(text(lenderRoot.dir))).toEqual(keys);

    // rotation: new keys on both nodes
    const r = cluster({ auth_rotation: 1 });
    const run3 = ctxs(true, new Map(), []);
    const lk3 = await lenderKeyFiles(run3.lender, modernPlan(r, r.nodes[1]));
    expect(lk3.actual).toEqual([`keys ${file}: rotation 0, mode 0600`]);
    await lk3.write();
    await (await borrowerKeyFiles(run3.borrower, modernPlan(r, r.nodes[0]))).write();
    const rotated = parsePairKeys(text(lenderRoot.dir))!;
    expect(rotated.rotation).toBe(1);
    expect(rotated.host).not.toBe(keys.host);
    expect(text(borrowerRoot.dir)).toBe(text(lenderRoot.dir));
  });

  it('a dry run writes nothing; a borrower whose lender is not in the run and has no copy is refused clearly', async () => {
    const c = cluster();
    const [bp, lp] = [modernPlan(c, c.nodes[0]), modernPlan(c, c.nodes[1])];
    const dry = ctxs(false, new Map(), []);
    const lk = await lenderKeyFiles(dry.lender, lp);
    expect(lk.actual).toEqual([]);
    expect(() => statSync(join(lenderRoot.dir, '/etc/ramster'))).toThrow();
    const limited = ctxs(true, new Map(), [], ['g0']);
    await expect(borrowerKeyFiles(limited.borrower, bp)).rejects.toThrow(
      /made and kept on the lender, and g1 is not in this run \(--limit\): g0 has no copy in \S+; apply with g1 included \(e\.g\. --limit g0,g1\)/,
    );
  });
});
