import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { makeRedactor, MASK } from '../../src/redact.ts';
import { commandFailed, outputTail, shq } from '../../src/shell.ts';
import { LocalTransport } from '../../src/transport/local.ts';

/** What sh reads back from the quoted word (printf %s: no trailing newline added or lost). */
async function roundTrip(value: string): Promise<string> {
  return (await execa('sh', ['-c', `printf %s ${shq(value)}`], { stripFinalNewline: false })).stdout;
}

describe('shq, the one shell quoter', () => {
  it.each([
    ['the empty string', ''],
    ['single quotes', `it's 'quoted' ''`],
    ['newlines', 'a\nb\n\nc\n'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${x} is the point: it must reach the shell unexpanded
    ['dollar signs', '$HOME ${x} $(id) $1 $$'],
    ['backticks', '`id` `'],
    ['non-ASCII', 'Grüße, 日本語, 🙂, \u00a0nbsp'],
    ['globs and operators', '* ? [a] ~ ; | & > < ( ) { } # ! \\'],
    ['leading dashes and blanks', '  -rf / '],
  ])('%s survive a round trip through sh as one word', async (_, value) => {
    expect(await roundTrip(value)).toBe(value);
    const argc = await execa('sh', ['-c', `set -- ${shq(value)}; printf %s "$#"`]);
    expect(argc.stdout).toBe('1');
  });

  it('quotes the empty string as an empty word and a plain word in single quotes', () => {
    expect(shq('')).toBe("''");
    expect(shq('/srv/a')).toBe("'/srv/a'");
    expect(shq("it's")).toBe(`'it'\\''s'`);
  });
});

describe('commandFailed, the one command-failure message', () => {
  it('names what failed and the exit code', () => {
    expect(commandFailed('reading /etc/x', { code: 2, stdout: '', stderr: '' })).toBe('reading /etc/x failed (exit 2)');
    expect(commandFailed('unpacking', { code: 1 }, { on: 'node0' })).toBe('unpacking failed on node0 (exit 1)');
  });

  it('names the signal when the command was killed', () => {
    expect(commandFailed('apt-get update', { code: undefined, signal: 'SIGKILL' })).toBe(
      'apt-get update failed (signal SIGKILL)',
    );
    expect(commandFailed('tar', { code: null, signal: 'SIGTERM', stderr: 'tar: cut short' })).toBe(
      'tar failed (signal SIGTERM): tar: cut short',
    );
    expect(commandFailed('x', { code: 137, signal: 'SIGKILL' })).toBe('x failed (exit 137)'); // a code wins
    expect(commandFailed('x', {})).toBe('x failed (exit unknown)');
  });

  it('adds the tail of stderr (stdout when stderr is blank): one line after ": ", several on their own lines', () => {
    expect(commandFailed('mv', { code: 1, stderr: 'mv: cannot move\n', stdout: 'ignored' })).toBe(
      'mv failed (exit 1): mv: cannot move',
    );
    expect(commandFailed('make', { code: 2, stderr: ' \n', stdout: 'out 1\nout 2\n' })).toBe(
      'make failed (exit 2):\nout 1\nout 2',
    );
    const stderr = Array.from({ length: 30 }, (_, i) => `err ${i + 1}`).join('\n');
    expect(commandFailed('build', { code: 2, stderr })).toBe(
      `build failed (exit 2):\n${Array.from({ length: 10 }, (_, i) => `err ${i + 21}`).join('\n')}`,
    );
    expect(commandFailed('build', { code: 2, stderr }, { lines: 3 })).toBe(
      'build failed (exit 2):\nerr 28\nerr 29\nerr 30',
    );
    expect(commandFailed('build', { code: 2, stderr }, { lines: Infinity })).toBe(`build failed (exit 2):\n${stderr}`);
    expect(commandFailed('grub', { code: 1, stderr: 'e' }, { output: 'o1\no2\ne' })).toBe(
      'grub failed (exit 1):\no1\no2\ne',
    );
  });

  it('keeps the output of a sensitive command out, and the redactor hides a secret in `what`', () => {
    const r = { code: 1, stdout: 'token=hunter2', stderr: 'bad password hunter2' };
    expect(commandFailed('sensitive command', r, { sensitive: true })).toBe('sensitive command failed (exit 1)');
    expect(makeRedactor(['hunter2'])(commandFailed('login with hunter2', r))).toBe(
      `login with ${MASK} failed (exit 1): bad password ${MASK}`,
    );
  });

  it('formats a real failed command of a transport', async () => {
    const r = await new LocalTransport().exec('echo partial; echo "no such file" >&2; exit 3');
    expect(commandFailed('the probe', r)).toBe('the probe failed (exit 3): no such file');
  });

  it('outputTail keeps the last lines, none for 0', () => {
    expect(outputTail('\na\nb\nc\n\n', 2)).toBe('b\nc');
    expect(outputTail('a\nb', 0)).toBe('');
    expect(outputTail('  ', 5)).toBe('');
  });
});
