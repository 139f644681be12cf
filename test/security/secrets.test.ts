import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PENDING_PATH } from '../../src/engine/pending.ts';
import { cli, makeLab, writeFiles, type Lab } from './helpers.ts';

// Class: SECRET DISCLOSURE. A `!sensitive` value (scalar, or every leaf of a map or list) never
// appears in any output — stdout, stderr, --json, diffs, error messages, cut summaries — nor in
// what the tool itself leaves on the host, whatever its shape and however it was rendered.
let lab: Lab;
beforeEach(() => (lab = makeLab()));
afterEach(() => lab.cleanup());

const SECRETS: Record<string, string> = {
  multi: 'multi-line-SECRET-one\nsecond-line-SECRET-two\n',
  quotes: `q"uo'te-SECRET`,
  backslash: 'back\\slash-SECRET\\n',
  unicode: 'ünï-cødé-SECRET-✓',
  mapUser: 'map-user-SECRET',
  mapPass: 'map"pass-SECRET',
  list1: 'list-SECRET-one',
  list2: 'list-SECRET-two',
  long: 'Zq7-long-SECRET-abcdefghijklmnop',
  play: 'play-SECRET-value',
};

const VARS = `    multi: !sensitive |
      multi-line-SECRET-one
      second-line-SECRET-two
    quotes: !sensitive 'q"uo''te-SECRET'
    backslash: !sensitive 'back\\slash-SECRET\\n'
    unicode: !sensitive "ünï-cødé-SECRET-✓"
    db: !sensitive {user: map-user-SECRET, pass: 'map"pass-SECRET'}
    keys: !sensitive [list-SECRET-one, list-SECRET-two]
    long: !sensitive Zq7-long-SECRET-abcdefghijklmnop`;

const PLAYBOOK = `- hosts: all
  vars:
    play_secret: !sensitive play-SECRET-value
  steps:
    - name: every secret in file content (a diff)
      file: {path: /etc/app.conf, content: "{{ multi }}{{ quotes }}\\n{{ backslash }}\\n{{ unicode }}\\n{{ db }}\\n{{ keys }}\\n{{ play_secret }}\\n"}
      notify: [reload]
    - name: a secret as a command argument
      command: {cmd: [sh, -c, 'printf "%s" "$1" > "$ROOT/argv.txt"', sh, "{{ quotes }}"]}
    - name: a secret past the cut of a long summary
      command: {cmd: "true 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234 {{ long }}"}
    - name: secrets in a failing command's output
      command: {cmd: "printf '%s\\\\n' {{ unicode | quote }} {{ keys | quote }} {{ db | quote }} >&2; printf %s {{ multi | quote }} >&2; exit 3"}
  handlers:
    - name: reload
      command: {cmd: "true"}
`;

/** Every form of a secret that would give it away: each line of it, and escaped for JSON. */
const giveaways = (s: string) => [s, ...s.split('\n').filter((l) => l.length >= 3), JSON.stringify(s).slice(1, -1)];

describe('secret disclosure', () => {
  it('secrets of every shape never appear in stdout, stderr, --json, diffs, errors or the on-host pending file', async () => {
    const { inv, pb } = writeFiles(lab, VARS, PLAYBOOK);
    const outputs: string[] = [];
    for (const args of [
      ['plan'],
      ['apply', '--diff'],
      ['apply', '--json', '--diff'],
      ['apply', '--check', '--diff', '-v'],
      ['plan', '--json'],
    ]) {
      const r = await cli(...args, '-i', inv, pb);
      outputs.push(r.stdout, r.stderr);
      expect(r.exitCode, r.stderr).not.toBe(0); // the failing step fails every apply; plans have changes
    }
    const all = outputs.join('\n');
    expect(all).toContain('********');
    expect(all).toContain("secrets in a failing command's output"); // the error itself is shown
    expect(all).toMatch(/^\s*\+\*{8}$/m); // a diff line, masked
    const pending = readFileSync(join(lab.root, PENDING_PATH), 'utf8');
    expect(JSON.parse(pending)).toEqual({ 'play 1': ['reload'] }); // the handler is still owed
    for (const [name, s] of Object.entries(SECRETS)) {
      for (const g of giveaways(s)) {
        expect(all.includes(g), `${name}: ${JSON.stringify(g)}`).toBe(false);
        expect(pending.includes(g), `${name} in the pending file`).toBe(false);
      }
    }
    expect(all).not.toContain('Zq7'); // no beginning of a secret before a cut
    // the secrets really were used on the host
    const conf = readFileSync(join(lab.root, 'etc/app.conf'), 'utf8');
    for (const s of Object.values(SECRETS).filter((v) => v !== SECRETS.long && v !== SECRETS.mapPass))
      expect(conf).toContain(s.trimEnd().split('\n')[0]);
    expect(conf).toContain(JSON.stringify(SECRETS.mapPass)); // {{ db }} renders the map as JSON
    expect(readFileSync(join(lab.root, 'argv.txt'), 'utf8')).toBe(SECRETS.quotes);
  });
});
