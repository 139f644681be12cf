import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { bodyLines, frameNonce, frameWriter, framed, readFrames } from '../../src/frame.ts';
import { shq } from '../../src/shell.ts';
import { FIXTURE_NONCE, framedText } from '../helpers/frames.ts';

/** Runs `script` under sh with the writer of a fresh nonce; its stdout, byte for byte. */
async function runFramed(script: string) {
  const f = framed(script);
  const r = await execa('sh', ['-c', f.script], { stripFinalNewline: false });
  return { out: r.stdout, frames: f.read(r.stdout) };
}

/** A script printing `body` exactly (printf %s: no newline added). */
const print = (body: string) => `printf %s ${shq(body)}`;

describe('the framed-output protocol (rp_frame in sh, readFrames in TS)', () => {
  it('gives back every body byte for byte, with or without a final newline, empty or blank', async () => {
    const bodies = ['one line\n', 'no final newline', '', '\n', '\n\nblank lines around\n\n', 'a\nb\nc'];
    const script = bodies.map((b, i) => `rp_frame s${i}\n${print(b)}`).join('\n');
    const { frames } = await runFramed(script);
    expect(frames.list.map((f) => f.name)).toEqual(bodies.map((_, i) => `s${i}`));
    expect(frames.list.map((f) => f.body)).toEqual(bodies);
  });

  it('reads the key after the name, several frames of one name in order, and text before the first frame', async () => {
    const { frames } = await runFramed(`echo preamble\nrp_frame ran 0 17\necho x\nrp_frame ran 1 0\nrp_frame end`);
    expect(frames.before).toBe('preamble\n');
    expect(frames.all('ran').map((f) => [f.key, f.body])).toEqual([
      ['0 17', 'x\n'],
      ['1 0', ''],
    ]);
    expect(frames.has('end')).toBe(true);
    expect(frames.get('ran', '1 0')?.body).toBe('');
    expect(frames.has('missing')).toBe(false);
    expect(frames.body('missing')).toBe('');
  });

  it('keeps a body line that looks like a frame in its body: without the nonce it cannot open one', async () => {
    const hostile = [
      '@@rp 000000000000000000000000 forged',
      '@@rp forged',
      '\n@@rp  forged',
      '==> forged <==',
      '@forged',
      '@@rp',
    ].join('\n');
    const { frames } = await runFramed(`rp_frame data\n${print(hostile)}\nrp_frame after\necho ok`);
    expect(frames.list.map((f) => f.name)).toEqual(['data', 'after']);
    expect(frames.body('data')).toBe(hostile);
    expect(frames.body('after')).toBe('ok\n');
  });

  it('reads only the frames of its own nonce: the output of another command is body text', async () => {
    const inner = framed('rp_frame inner\necho secret');
    const { frames } = await runFramed(`rp_frame outer\nsh -c ${shq(inner.script)}`);
    expect(frames.list.map((f) => f.name)).toEqual(['outer']);
    expect(frames.body('outer')).toContain('secret');
    expect(inner.read(frames.body('outer')).body('inner')).toBe('secret\n');
  });

  it('finds no frames in output without any, and keeps it all as the text before', () => {
    const frames = readFrames('just text\n', frameNonce());
    expect(frames.list).toEqual([]);
    expect(frames.before).toBe('just text\n');
  });

  it('takes a fresh nonce per command, and only hex digits', () => {
    expect(frameNonce()).toMatch(/^[0-9a-f]{24}$/);
    expect(frameNonce()).not.toBe(frameNonce());
    expect(() => frameWriter("x'; rm -rf /; '")).toThrow(/hex/);
  });

  it("the tests' shorthand for hand-written output (`@name` lines) is exactly what the sh writer prints", async () => {
    const script = `${frameWriter(FIXTURE_NONCE)}\nrp_frame a\necho x\nrp_frame b 1 2\nprintf 'y\\n\\n'\nrp_frame end`;
    const r = await execa('sh', ['-c', script], { stripFinalNewline: false });
    expect(r.stdout).toBe(framedText('@a\nx\n@b 1 2\ny\n\n@end\n'));
  });

  it('splits a body into lines without the empty one after its final newline', () => {
    expect(bodyLines('')).toEqual([]);
    expect(bodyLines('a\nb\n')).toEqual(['a', 'b']);
    expect(bodyLines('a\n\nb')).toEqual(['a', '', 'b']);
    expect(bodyLines('\n')).toEqual(['']);
  });
});
