import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PENDING_PATH } from '../../src/engine/pending.ts';
import { exitCode } from '../../src/engine/result.ts';
import { ManifestError, parseManifest } from '../../src/kernel/plan.ts';
import { readCachedManifest } from '../../src/steps/ramster/kernel-make.ts';
import { LocalTransport } from '../../src/transport/local.ts';
import { absent, makeLab, runOn, type Lab } from './helpers.ts';

// Class: TAMPERED OR DAMAGED STATE ON A HOST. What a host (or a build host) hands back is data
// to check: a corrupt pending-handlers file never loses a pending reboot silently, and a build
// host's manifest cannot choose paths on the controller or the nodes.
let lab: Lab;
beforeEach(() => (lab = makeLab()));
afterEach(() => lab.cleanup());

const SHA = 'a'.repeat(64);

describe('tampered state on a host', () => {
  it('a corrupt pending-handlers file fails the host naming the file and what to do; an apply keeps it aside; the next apply runs', async () => {
    const dir = join(lab.root, 'var/lib/ramster-provision');
    mkdirSync(dir, { recursive: true });
    const corrupt = '{"site": ["cluster reboot"'; // cut short: it held a pending reboot
    writeFileSync(join(lab.root, PENDING_PATH), corrupt);
    const steps = `    - command: {cmd: "touch $ROOT/ran"}\n`;

    const plan = await runOn(lab, '', steps, false);
    expect(exitCode(plan)).toBe(1);
    expect(plan.hosts[0].error).toMatch(
      /pending-handlers\.json on the host is corrupt \(not JSON: .*\)\. It records handlers \(a reboot among them\).*Read it on the host, run what it names by hand \(or reboot the host\), then remove it/,
    );
    expect(readFileSync(join(lab.root, PENDING_PATH), 'utf8')).toBe(corrupt); // a dry run moves nothing

    const apply = await runOn(lab, '', steps, true);
    expect(apply.hosts[0].status).toBe('failed');
    expect(apply.hosts[0].error).toMatch(
      /It was moved aside to \/var\/lib\/ramster-provision\/pending-handlers\.json\.corrupt-[\dTZ-]+: read it, run what it names by hand \(or reboot the host\), then apply again/,
    );
    expect(absent(join(lab.root, 'ran'))).toBe(true);
    const aside = readdirSync(dir).filter((f) => f.startsWith('pending-handlers.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(dir, aside[0]), 'utf8')).toBe(corrupt); // the pending reboot is not lost
    expect(existsSync(join(dir, 'lock'))).toBe(false);

    const next = await runOn(lab, '', steps, true);
    expect(next.hosts[0].status).toBe('changed');
    expect(existsSync(join(lab.root, 'ran'))).toBe(true);

    // valid JSON of the wrong shape is corrupt too (it used to end in a raw TypeError)
    writeFileSync(join(lab.root, PENDING_PATH), '{"site": "cluster reboot"}');
    expect((await runOn(lab, '', steps, false)).hosts[0].error).toMatch(
      /corrupt \(the entry of play "site" is not a list of handler names\)/,
    );
  });

  it("a build host's manifest naming a file outside the cache is refused before any copy", async () => {
    const m = lab.marker('pwned.deb');
    const rel = `../../../../../../../../..${m}`;
    const manifest = `release 6.1.0-rp\nformat deb\nimage ${rel}\nfile ${SHA} 10 ${rel}\n`;
    expect(() => parseManifest(manifest)).toThrow(ManifestError);
    expect(() => parseManifest(manifest)).toThrow(
      /names image ".*pwned\.deb", which is not a plain file name: refusing it .* remove the build's cache folder on the build host and build again/,
    );
    expect(() => parseManifest(`release ../../boot/x\nformat deb\nimage a.deb\nfile ${SHA} 10 a.deb\n`)).toThrow(
      /names release "\.\.\/\.\.\/boot\/x"/,
    );
    expect(
      parseManifest(
        `release 6.1.0-rp\nformat deb\nimage linux-image-6.1.0_6.1.0-rp.1_amd64.deb\nfile ${SHA} 10 linux-image-6.1.0_6.1.0-rp.1_amd64.deb\n`,
      )?.image.name,
    ).toBe('linux-image-6.1.0_6.1.0-rp.1_amd64.deb');
    // as read from a (folder) build host's cache
    const cache = join(lab.root, 'var/cache/k/key1');
    mkdirSync(cache, { recursive: true });
    writeFileSync(join(cache, 'manifest'), manifest);
    writeFileSync(join(cache, 'complete'), '');
    await expect(readCachedManifest(new LocalTransport(lab.root), '/var/cache/k/key1')).rejects.toThrow(
      /not a plain file name/,
    );
    expect(absent(m)).toBe(true);
  });
});
