import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { cut, makeRedactor, MASK } from '../../src/redact.ts';
import { shq } from '../../src/shell.ts';
import { renderTemplate } from '../../src/steps/render.ts';
import { hostPath } from '../../src/transport/types.ts';

describe('{{ x | quote }}', () => {
  const vars = { v: `it's $(x) "y"`, list: ['a b', "c'd"], n: 3, plain: '/srv/a-b_c.d' };
  it('renders one shell word that sh reads back as the exact value (a list: one word per item)', async () => {
    const text = renderTemplate('printf "%s|" {{ v | quote }} {{ list | quote }} {{n|quote}}', vars, 'pb.yaml:1:1', {
      shell: true,
    });
    const r = await execa('sh', ['-c', text]);
    expect(r.stdout).toBe(`it's $(x) "y"|a b|c'd|3|`);
  });
  it('in shell text, an unquoted value must be a plain word; plain words pass', () => {
    expect(renderTemplate('ls {{ plain }}', vars, 'w', { shell: true })).toBe('ls /srv/a-b_c.d');
    expect(() => renderTemplate('ls {{ v }}', vars, 'w', { shell: true })).toThrow(
      /w: template line 1 \(ls \{\{ v \}\}\): "\{\{ v \}\}" puts a value with spaces or shell characters into a shell command unquoted; write \{\{ v \| quote \}\}/,
    );
    expect(() => renderTemplate('ls {{ v }}', vars, 'w', { shell: true })).not.toThrow(/\$\(x\)/); // the value is not shown
    expect(renderTemplate('ls {{ v }}', vars, 'w')).toBe(`ls ${vars.v}`); // outside shell text, as is
    expect(() => renderTemplate('{{ v | upper }}', vars, 'w')).toThrow(/unknown filter 'upper'/);
  });
  it('shq is the one quoter: any bytes survive a round trip through sh', async () => {
    const nasty = `a'b"c$d\`e\\f\ng h;|&*?[]~`;
    expect((await execa('sh', ['-c', `printf %s ${shq(nasty)}`])).stdout).toBe(nasty);
  });
});

describe('redaction', () => {
  it('hides each line of a multi-line secret, its JSON-escaped and shell-quoted forms, and a prefix before a cut', () => {
    const r = makeRedactor(['line-one-x\nline-two-y\n', 'a"b\\c', "it's"]);
    expect(r('+line-two-y')).toBe(`+${MASK}`);
    expect(r(JSON.stringify({ k: 'a"b\\c' }))).toBe(`{"k":"${MASK}"}`);
    expect(r(`echo ${shq("it's")}`)).toBe(`echo '${MASK}'`);
    expect(r(cut(`run echo line-one-x-and-more`, 14))).toBe(`run echo ${MASK}…`);
  });
});

describe('hostPath on a folder target', () => {
  it('resolves symlinks inside the root and refuses ..', () => {
    const root = mkdtempSync(join(tmpdir(), 'rp-hostpath-'));
    try {
      mkdirSync(join(root, 'var'));
      mkdirSync(join(root, 'usr/lib'), { recursive: true });
      symlinkSync('/run', join(root, 'var/run'));
      symlinkSync('../../../../usr/lib', join(root, 'var/lib'));
      symlinkSync('loop2', join(root, 'loop1'));
      symlinkSync('loop1', join(root, 'loop2'));
      const t = { root };
      expect(hostPath(t, '/var/run/x.pid')).toBe(`${root}/run/x.pid`);
      expect(hostPath(t, '/var/lib/os-release')).toBe(`${root}/usr/lib/os-release`);
      expect(hostPath(t, '/new/dir/file')).toBe(`${root}/new/dir/file`);
      expect(() => hostPath(t, '/etc/../../x')).toThrow(/contains '\.\.'/);
      expect(() => hostPath(t, '/loop1/x')).toThrow(/too many levels of symbolic links/);
      expect(hostPath({ root: '' }, '/var/run/x')).toBe('/var/run/x');
      expect(() => hostPath({ root: '' }, '/sys/../etc/x')).toThrow(/contains '\.\.'/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
