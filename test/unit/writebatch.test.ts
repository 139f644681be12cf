import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_PATH } from '../../src/engine/hostlock.ts';
import { runPlaybook } from '../../src/engine/run.ts';
import { loadInventoryText } from '../../src/inventory/load.ts';
import { loadPlaybookText } from '../../src/playbook/load.ts';
import { writeFileAtomic } from '../../src/transport/fileops.ts';
import { LocalTransport } from '../../src/transport/local.ts';

// An apply's writes (files, blocks, lines, modes) are queued and sent in one command before
// the next command that needs an answer (engine/writebatch.ts): the first failure stops the
// rest and is reported at its own step, as when each write was sent alone.
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rp-writebatch-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('a write that fails in a batch', () => {
  const inventory = () =>
    loadInventoryText(join(dir, 'inv.yaml'), `all:\n  hosts:\n    h: {connection: local, root: ${dir}/h}\n`);
  const opts = { apply: true, forks: 1, connect: { acceptNewHostKeys: false, connectTimeoutMs: 1000 } };
  const steps = `
- name: files
  hosts: all
  steps:
    - {name: one, file: {path: /etc/one, content: "1\\n"}NOTIFY}
    - {name: blocked, file: {path: /etc/blocker/two, content: "2\\n"}}
    - {name: three, file: {path: /etc/three, content: "3\\n"}}
`;
  const cases = [
    // the failing batch is the last: the unlock rides on it
    { name: 'in the last batch', more: '', notify: false, trips: 1 + 1 + 1 },
    // `one` notifies a handler (its pending-handlers file is written right after it), and a
    // later step reads /etc/one live: the batch goes before that read; the unlock goes alone
    {
      name: 'before a live read',
      more: '    - {name: line, lineinfile: {path: /etc/one, line: "2"}}\n',
      notify: true,
      trips: 1 + 1 + 1 + 1,
    },
  ];

  it.each(cases)(
    '$name: stops the writes after it, fails its own step with the message of an unbatched write, releases the lock',
    async ({ more, notify, trips }) => {
      mkdirSync(join(dir, 'h/etc'), { recursive: true });
      writeFileSync(join(dir, 'h/etc/blocker'), 'a file where a folder should be\n');
      const pb = loadPlaybookText(
        join(dir, 'pb.yaml'),
        steps.replace('NOTIFY', notify ? ', notify: [say]' : '') +
          more +
          (notify ? '  handlers:\n    - {name: say, command: {cmd: "touch said"}}\n' : ''),
      );
      const events: string[] = [];
      const r = await runPlaybook(inventory(), pb, {
        ...opts,
        events: {
          stepStart: (_h, s) => events.push(`start ${s.name}`),
          stepEnd: (_h, s) => events.push(`end ${s.step} ${s.status}`),
        },
      });
      const host = r.hosts[0];

      // what the same write says run on its own (as before batching)
      const alone = await writeFileAtomic(new LocalTransport(join(dir, 'h')), '/etc/blocker/two', '2\n').catch(
        (e: Error) => e.message,
      );
      expect(alone).toMatch(/^write \/etc\/blocker\/two failed \(exit 1\): mkdir: .*File exists/);
      expect(host.status).toBe('failed');
      expect(host.steps.map((s) => [s.step, s.status])).toEqual([
        ['one', 'changed'],
        ['blocked', 'failed'],
      ]);
      const { loc } = pb.plays[0].steps[1];
      expect(host.steps[1].message).toBe(`${loc.file}:${loc.line}:${loc.col}: ${alone}`);
      expect(host.error).toBe(host.steps[1].message);
      expect(host.counts).toMatchObject({ changed: 1, failed: 1, ok: 0 });
      expect(events).toEqual(['start one', 'end one changed', 'start blocked', 'end blocked failed']);

      expect(readFileSync(join(dir, 'h/etc/one'), 'utf8')).toBe('1\n'); // before it: applied
      expect(existsSync(join(dir, 'h/etc/three'))).toBe(false); // after it: not run
      expect(existsSync(join(dir, 'h/said'))).toBe(false); // no handler after a failure
      const pending = join(dir, 'h/var/lib/ramster-provision/pending-handlers.json');
      // the notification of `one`, written right after it, is kept for the next run
      if (notify) expect(JSON.parse(readFileSync(pending, 'utf8'))).toEqual({ files: ['say'] });
      expect(existsSync(join(dir, 'h', LOCK_PATH))).toBe(false);
      expect(readFileSync(join(dir, 'h', `${LOCK_PATH}.serial`), 'utf8').trim()).toBe('1');
      expect(host.roundTrips).toBe(trips);
    },
  );
});

describe('a batch stopped by the step timeout', () => {
  it('on a folder target: the write it stopped leaves its old file and no temp file, is not finished later, and the writes after it never run', async () => {
    mkdirSync(join(dir, 'h/etc'), { recursive: true });
    writeFileSync(join(dir, 'h/etc/slow'), 'old\n');
    const pb = loadPlaybookText(
      join(dir, 'pb.yaml'),
      `
- name: files
  hosts: all
  steps:
    - {name: one, file: {path: /etc/one, content: "1\\n"}}
    - {name: slow, file: {path: /etc/slow, content: "new\\n", validate: "sleep 31.25; test -s %s"}}
    - {name: three, file: {path: /etc/three, content: "3\\n"}}
`,
    );
    const inv = loadInventoryText(
      join(dir, 'inv.yaml'),
      `all:\n  hosts:\n    h: {connection: local, root: ${dir}/h}\n`,
    );
    const r = await runPlaybook(inv, pb, {
      apply: true,
      forks: 1,
      stepTimeoutMs: 500,
      connect: { acceptNewHostKeys: false, connectTimeoutMs: 1000 },
    });
    const host = r.hosts[0];
    expect(host.steps.map((s) => [s.step, s.status])).toEqual([
      ['one', 'changed'],
      ['slow', 'failed'],
    ]);
    // the batch gets the sum of its writes' step timeouts
    expect(host.steps[1].message).toMatch(/write \/etc\/slow failed \(exit 124\):[\s\S]*timed out after 1500 ms$/);
    expect(readFileSync(join(dir, 'h/etc/one'), 'utf8')).toBe('1\n');
    expect(existsSync(join(dir, 'h/etc/three'))).toBe(false);
    expect(existsSync(join(dir, 'h', LOCK_PATH))).toBe(false);
    // the validate command was stopped with its write: nothing finishes the write later
    for (let i = 0; i < 50 && (await execa('pgrep', ['-f', '^sleep 31.25$'], { reject: false })).exitCode === 0; i++)
      await new Promise((res) => setTimeout(res, 100));
    expect((await execa('pgrep', ['-f', '^sleep 31.25$'], { reject: false })).exitCode).toBe(1);
    expect(readFileSync(join(dir, 'h/etc/slow'), 'utf8')).toBe('old\n');
    expect(readdirSync(join(dir, 'h/etc')).filter((f) => f.includes('.rp-tmp.'))).toEqual([]);
  });
});
