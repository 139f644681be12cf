import { readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRamsterConf } from '../../../../src/ramster/confparse.ts';
import { renderDefaults } from '../../../../src/ramster/defaults.ts';
import { ramsterConfStep, sha256 } from '../../../../src/steps/ramster/conf.ts';
import { hostLegacyCluster } from '../../../../src/steps/ramster/cluster.ts';
import { ramsterDefaultsStep } from '../../../../src/steps/ramster/defaults.ts';
import { LocalTransport } from '../../../../src/transport/local.ts';
import { debianFacts, expectConverges, snapshot, tempRoot } from '../helpers.ts';
import { Barriers, clusterHosts, peers, ramsterCtx } from './fixtures.ts';

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir: root, cleanup } = await tempRoot('rp-conf-')));
afterEach(() => cleanup());

const vars3 = clusterHosts(3, 'ram-server');

describe('ramster_conf step', () => {
  it('writes the rendered file 0644 root:root; dry run equals apply; then converged', async () => {
    const t = new LocalTransport(root);
    const { dry } = await expectConverges(
      ramsterConfStep,
      {},
      (a) => ramsterCtx(t, a, 'host1', vars3.get('host1')!),
      root,
    );
    const text = await readFile(join(root, 'etc/ramster.conf'), 'utf8');
    expect(dry.diff).toContain('+\tname = node1');
    const parsed = parseRamsterConf(text, 'node1');
    expect(parsed.ok && parsed.conf.local?.number).toBe(1);
    expect(parsed.ok && parsed.conf.nodes.map((n) => n.ipAddress)).toEqual(['10.0.0.10', '10.0.0.11', '10.0.0.12']);
    const st = await stat(join(root, 'etc/ramster.conf'));
    expect([(st.mode & 0o777).toString(8), st.uid, st.gid]).toEqual(['644', 0, 0]);
  });

  it('compares the hash across the cluster: identical files pass, on every node, in a dry run too', async () => {
    const barriers = new Barriers();
    const members = ['host0', 'host1', 'host2'];
    const roots = members.map((h) => join(root, h));
    for (const r of roots) await mkdir(r);
    const run = (apply: boolean, key: string) =>
      Promise.all(
        members.map((h, i) =>
          ramsterConfStep.checkApply(
            {},
            ramsterCtx(new LocalTransport(roots[i]), apply, h, vars3.get(h)!, {
              cluster: peers(barriers, members, h, key),
            }),
          ),
        ),
      );
    const dry = await run(false, 'dry');
    for (const c of dry)
      expect(c.summary).toMatch(
        /^create \/etc\/ramster\.conf \(mode 0644\); identical on 3 nodes \(sha256 [0-9a-f]{12}…\)$/,
      );
    const applied = await run(true, 'apply');
    expect(applied).toEqual(dry);
    const files = await Promise.all(roots.map((r) => readFile(join(r, 'etc/ramster.conf'))));
    expect(new Set(files.map((f) => sha256(f))).size).toBe(1);
    expect(dry[0].summary).toContain(sha256(files[0]).slice(0, 12));
  });

  it('fails on every node, naming the others, when a node renders a different file', async () => {
    const barriers = new Barriers();
    const other = clusterHosts(2, 'one-way', ', port: 7778');
    const members = ['host0', 'host1'];
    const [a, b] = [join(root, 'a'), join(root, 'b')];
    await mkdir(a);
    await mkdir(b);
    const results = await Promise.allSettled([
      ramsterConfStep.checkApply(
        {},
        ramsterCtx(new LocalTransport(a), false, 'host0', clusterHosts(2).get('host0')!, {
          cluster: peers(barriers, members, 'host0'),
        }),
      ),
      ramsterConfStep.checkApply(
        {},
        ramsterCtx(new LocalTransport(b), false, 'host1', other.get('host1')!, {
          cluster: peers(barriers, members, 'host1'),
        }),
      ),
    ]);
    const msgs = results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'passed'));
    expect(msgs[0]).toMatch(
      /\/etc\/ramster\.conf is not identical on every node: host0 has sha256 [0-9a-f]{12}…, host1 has [0-9a-f]{12}…/,
    );
    expect(msgs[1]).toMatch(/host1 has sha256 [0-9a-f]{12}…, host0 has /);
  });

  it('leaves the old file when the cluster does not make a valid file, or validate refuses it', async () => {
    const t = new LocalTransport(root);
    await mkdir(join(root, 'etc'));
    await writeFile(join(root, 'etc/ramster.conf'), 'old\n');
    const before = await snapshot(root);
    const host0 = vars3.get('host0')!;
    const bad = {
      ...host0,
      inCluster: { ...host0.inCluster!, cluster: { ...host0.inCluster!.cluster, name: 'ram-ster' } },
    };
    await expect(ramsterConfStep.checkApply({}, ramsterCtx(t, true, 'host0', bad))).rejects.toThrow(
      /does not make a valid ramster.conf[\s\S]*must contain only letters and digits/,
    );
    await expect(
      ramsterConfStep.checkApply({ validate: 'false' }, ramsterCtx(t, true, 'host0', vars3.get('host0')!)),
    ).rejects.toThrow(/validation failed/);
    expect(await snapshot(root)).toEqual(before);
  });
});

describe('ramster_defaults step', () => {
  it("Debian: /etc/default/ramster with this node's target; converges", async () => {
    const t = new LocalTransport(root);
    const vars = clusterHosts(2, 'one-way');
    await expectConverges(ramsterDefaultsStep, {}, (a) => ramsterCtx(t, a, 'host0', vars.get('host0')!), root);
    const text = await readFile(join(root, 'etc/default/ramster'), 'utf8');
    expect(text).toBe(renderDefaults(hostLegacyCluster({ ...vars.get('host0')!, host: 'host0' }).cluster, 0));
    expect(text).toMatch(/^RAMSTER_REMOTE_TARGET=1$/m);
    expect(text).toMatch(/^RAMSTER_HEARTBEAT_THRESHOLD=500$/m);
    expect(text).toMatch(/^RAMSTER_IDLE_TIMEOUT_MS=1000000$/m);
  });

  it('Red Hat: /etc/sysconfig/ramster; a lending node has no target', async () => {
    const t = new LocalTransport(root);
    const vars = clusterHosts(2, 'one-way');
    const rh = debianFacts({ os_family: 'redhat', distro: 'centos', distro_version: '6.10' });
    await expectConverges(
      ramsterDefaultsStep,
      {},
      (a) => ramsterCtx(t, a, 'host1', vars.get('host1')!, { facts: rh }),
      root,
    );
    expect(await readFile(join(root, 'etc/sysconfig/ramster'), 'utf8')).toMatch(/^RAMSTER_REMOTE_TARGET=$/m);
  });
});
