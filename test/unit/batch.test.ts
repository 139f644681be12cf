import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BATCH_RUNNER, batchScript, parseBatch } from '../../src/transport/batch.ts';
import { writeFileAtomic } from '../../src/transport/fileops.ts';
import { LocalTransport } from '../../src/transport/local.ts';

// Several writes in one command (transport/batch.ts): each still atomic, each with its own exit
// status, the first failure stopping the rest.
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rp-batch-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('batch script', () => {
  it('runs the commands in order, each with its own stdin, output and exit code; stops at the first failure; the tail runs anyway', async () => {
    const t = new LocalTransport(dir);
    const batch = batchScript(
      [
        { script: 'base64 -d > one; echo to-stdout; echo to-stderr >&2', stdin: b64('1\n') },
        { script: 'cat; echo no >&2; exit 3', stdin: b64('x') },
        { script: 'touch never' },
      ],
      'touch tail-ran',
    );
    const r = await t.exec(BATCH_RUNNER, { stdin: batch.script });
    const { ran, tailRan } = parseBatch(batch.read(r.stdout), 3);
    expect(readFileSync(join(dir, 'one'), 'utf8')).toBe('1\n');
    expect(ran[0]).toEqual({ code: 0, stdout: '', stderr: 'to-stdout\nto-stderr' });
    expect(ran[1]).toEqual({ code: 3, stdout: '', stderr: `${b64('x')}\nno` });
    expect(ran[2]).toBeUndefined();
    expect(existsSync(join(dir, 'never'))).toBe(false);
    expect(tailRan).toBe(true);
    expect(existsSync(join(dir, 'tail-ran'))).toBe(true);
  });

  it('carries big data on stdin (not on the command line) and refuses stdin that is not base64 text', async () => {
    const t = new LocalTransport(dir);
    const big = Buffer.alloc(600 * 1024, 'y');
    const batch = batchScript([{ script: 'base64 -d > big', stdin: big.toString('base64') }]);
    const r = await t.exec(BATCH_RUNNER, { stdin: batch.script });
    expect(parseBatch(batch.read(r.stdout), 1).ran[0]?.code).toBe(0);
    expect(readFileSync(join(dir, 'big')).equals(big)).toBe(true);
    expect(() => batchScript([{ script: 'cat', stdin: "x'\nEOF\n$(touch pwned)" }])).toThrow(/base64/);
  });

  it('writes a file whose path and content carry shell syntax as data only', async () => {
    const t = new LocalTransport(dir);
    const queued: { script: string; stdin?: string }[] = [];
    const deferring = Object.assign(Object.create(t), {
      deferWrite: (script: string, w: { stdin?: string }) => queued.push({ script, stdin: w.stdin }),
    });
    const path = `/etc/it's $(touch pwned) \`touch pwned2\`; "x"`;
    await writeFileAtomic(deferring, path, "RP_STDIN_0\n$(touch pwned3)\n'");
    const batch = batchScript(queued);
    const r = await t.exec(BATCH_RUNNER, { stdin: batch.script });
    expect(parseBatch(batch.read(r.stdout), 1).ran[0]?.code).toBe(0);
    expect(readFileSync(join(dir, path), 'utf8')).toBe("RP_STDIN_0\n$(touch pwned3)\n'");
    for (const f of ['pwned', 'pwned2', 'pwned3']) expect(existsSync(join(dir, f)), f).toBe(false);
  });
});
