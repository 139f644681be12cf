import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatConfErrors, parseRamsterConf } from '../../../src/ramster/confparse.ts';
import { brokenFixtures, validFixtures } from './conf-fixtures.ts';
import { fixtureDir, ramsterCtl } from './clusters.ts';
import { tempDir } from '../../helpers/tmp.ts';

// The awk parser in ramster-ctl and the TS parser must agree on every file: same verdict,
// same errors (line, message, hint), same local node.

function shCheck(file: string, hostname: string) {
  const r = spawnSync('sh', [ramsterCtl, 'check'], {
    env: { PATH: process.env.PATH, RAMSTER_CONF: file, RAMSTER_HOSTNAME: hostname, RAMSTER_DEFAULTS: '/nonexistent' },
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function expectSame(file: string, hostname: string) {
  const text = readFileSync(file, 'utf8');
  const ts = parseRamsterConf(text, hostname || undefined);
  const sh = shCheck(file, hostname);
  if (ts.ok) {
    expect({ code: sh.code, stderr: sh.stderr }).toEqual({ code: 0, stderr: '' });
    const count = ts.conf.nodes.length;
    const local = ts.conf.local ? `, this host is node ${ts.conf.local.number} (${ts.conf.local.name})` : '';
    expect(sh.stdout).toBe(`${file}: OK: cluster "${ts.conf.cluster.name}", ${count} nodes${local}\n`);
  } else {
    expect({ code: sh.code, stderr: sh.stderr }).toEqual({ code: 1, stderr: `${formatConfErrors(file, ts.errors)}\n` });
  }
}

const hostnames = ['system1', 'system2.example.com', 'node1', 'n0', ''];

describe('ramster-ctl check agrees with parseRamsterConf', () => {
  it.each(Object.keys(validFixtures))('valid/%s', (f) => {
    for (const h of [validFixtures[f].hostname, ...hostnames]) expectSame(`${fixtureDir}valid/${f}`, h);
  });

  it.each(Object.keys(brokenFixtures))('broken/%s', (f) => {
    for (const h of [brokenFixtures[f].hostname ?? 'system1', ...hostnames]) expectSame(`${fixtureDir}broken/${f}`, h);
  });

  it('on randomly damaged files', () => {
    const dir = tempDir('ramster-parity-');
    const bases = Object.keys(validFixtures).map((f) => readFileSync(`${fixtureDir}valid/${f}`, 'utf8'));
    const pieces = [
      ' ',
      '\t',
      '\n',
      '\r',
      '#',
      ':',
      '=',
      '\\',
      'node:',
      'cluster:',
      '\tnumber = 3',
      '\tname = x',
      '7',
      '.',
      'é',
      '\n\n',
    ];
    const mutation = fc.record({ at: fc.nat(), del: fc.nat({ max: 6 }), insert: fc.constantFrom(...pieces) });
    let n = 0;
    fc.assert(
      fc.property(
        fc.nat({ max: bases.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        fc.constantFrom(...hostnames),
        (b, muts, host) => {
          let text = bases[b];
          for (const m of muts) {
            const at = m.at % (text.length + 1);
            text = text.slice(0, at) + m.insert + text.slice(at + m.del);
          }
          const file = join(dir, `case${n++}.conf`);
          writeFileSync(file, text);
          expectSame(file, host);
        },
      ),
      { numRuns: 250, seed: 4242 },
    );
  });
});
