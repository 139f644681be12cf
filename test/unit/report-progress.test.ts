import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HostResult, StepResult } from '../../src/engine/result.ts';
import { runPlaybook } from '../../src/engine/run.ts';
import { loadInventoryText } from '../../src/inventory/load.ts';
import { loadPlaybookText } from '../../src/playbook/load.ts';
import type { StepSpec } from '../../src/playbook/types.ts';
import { plainProgress } from '../../src/report/progress.ts';
import { makeStyle } from '../../src/report/style.ts';

// The non-TTY progress (CI logs): quiet for quick steps, a "running" line for a step still going
// after 10 s and every 30 s after, its total time at the end. Fake timers: no wall clock here.
const st = makeStyle(process.stdout, true);
const spec = (name: string) => ({ name }) as StepSpec;
const result = (step: string, status: StepResult['status'], durationMs: number, summary = 'did it'): StepResult => ({
  play: 'p',
  step,
  type: 'command',
  handler: false,
  status,
  loc: { file: 'pb.yaml', line: 1, col: 1 },
  durationMs,
  change: { action: status === 'changed' ? 'run' : 'none', summary },
});

function capture() {
  const out = new PassThrough();
  const lines: string[] = [];
  out.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean)));
  return { out, lines };
}

describe('plain progress (non-TTY)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a quick ok step prints nothing; a long one gets a line after 10 s, every 30 s with the last log line, and its total time', async () => {
    const { out, lines } = capture();
    const p = plainProgress(out, st, false);
    p.events.hostStart!('node1');
    p.events.stepStart!('node1', spec('motd'), false);
    await vi.advanceTimersByTimeAsync(300);
    p.events.stepEnd!('node1', result('motd', 'ok', 300));
    expect(lines).toEqual([]);
    await vi.advanceTimersByTimeAsync(700); // the next step starts on a tick of the 1 s timer

    p.events.stepStart!('node1', spec('reboot the cluster together'), true);
    await vi.advanceTimersByTimeAsync(9_000);
    expect(lines).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(lines).toEqual(['node1  running  [2] handler reboot the cluster together: 10.0 s']);
    p.events.log!('node1', 'rebooting (boot_id b0)');
    await vi.advanceTimersByTimeAsync(29_000);
    expect(lines).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(lines[2]).toBe(
      'node1  running  [2] handler reboot the cluster together: 40.0 s (last: rebooting (boot_id b0))',
    );
    await vi.advanceTimersByTimeAsync(5_000);
    p.events.stepEnd!('node1', {
      ...result('reboot the cluster together', 'changed', 45_000, 'reboot (boot_id b0)'),
      handler: true,
    });
    expect(lines[3]).toBe('node1  changed  handler reboot the cluster together: reboot (boot_id b0)  (45.0 s)');
    await vi.advanceTimersByTimeAsync(120_000);
    expect(lines).toHaveLength(4); // nothing runs: no more lines
    await p.finish();
  });

  it('a long ok step is shown at its end too, even without --verbose; each host on its own', async () => {
    const { out, lines } = capture();
    const p = plainProgress(out, st, false);
    p.events.stepStart!('node1', spec('build the kernel'), false);
    p.events.stepStart!('node2', spec('build the kernel'), false);
    await vi.advanceTimersByTimeAsync(4_000);
    p.events.stepEnd!('node2', result('build the kernel', 'ok', 4_000, 'kernel built on node1'));
    await vi.advanceTimersByTimeAsync(8_000);
    p.events.stepEnd!('node1', result('build the kernel', 'ok', 12_000, 'kernel up to date'));
    expect(lines).toEqual([
      'node1  running  [1] build the kernel: 10.0 s',
      'node1  ok       build the kernel: kernel up to date  (12.0 s)',
    ]);
    await p.finish();
  });

  it('a long wait at a cluster barrier, and a long connect, get lines and a "done" line', async () => {
    const { out, lines } = capture();
    const p = plainProgress(out, st, false);
    p.events.hostStart!('node2');
    await vi.advanceTimersByTimeAsync(10_000);
    p.events.barrierWait!('node2', spec('node-up on all nodes at once'));
    await vi.advanceTimersByTimeAsync(10_000);
    p.events.stepStart!('node2', spec('node-up on all nodes at once'), false);
    expect(lines).toEqual([
      'node2  running  connecting (facts, lock): 10.0 s',
      'node2  done     connecting (facts, lock) after 10.0 s',
      "node2  running  waiting for the cluster before 'node-up on all nodes at once': 10.0 s",
      "node2  done     waiting for the cluster before 'node-up on all nodes at once' after 10.0 s",
    ]);
    p.events.hostEnd!('node2', { host: 'node2', status: 'unreachable', error: 'connection lost' } as HostResult);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(lines.slice(4)).toEqual(['node2  unreachable  connection lost']);
    await p.finish();
  });
});

describe('engine progress events', () => {
  it('a cluster barrier is announced to the progress before the host waits there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rp-progress-'));
    try {
      for (const h of ['a', 'b']) mkdirSync(join(dir, h));
      const inv = loadInventoryText(
        join(dir, 'inv.yaml'),
        `all:
  children:
    lab:
      ramster: {cluster: ramster, topology: one-way}
      hosts:
        a: {address: 127.0.0.1, connection: local, root: ${dir}/a, number: 0, hostname: system1, cluster_address: 10.0.0.1}
        b: {address: 127.0.0.1, connection: local, root: ${dir}/b, number: 1, hostname: system2, cluster_address: 10.0.0.2}
`,
      );
      const pb = loadPlaybookText(
        join(dir, 'pb.yaml'),
        `- hosts: all\n  steps:\n    - name: first\n      command: {cmd: "true"}\n    - name: together\n      barrier: cluster\n      command: {cmd: "true"}\n`,
      );
      const seen: string[] = [];
      const events = {
        stepStart: (h: string, s: StepSpec) => seen.push(`${h} start ${s.name}`),
        barrierWait: (h: string, s: StepSpec) => seen.push(`${h} barrier ${s.name}`),
      };
      const r = await runPlaybook(inv, pb, {
        apply: true,
        forks: 2,
        connect: { acceptNewHostKeys: false, connectTimeoutMs: 1000 },
        events,
      });
      expect(r.totals.failed).toBe(0);
      for (const h of ['a', 'b']) {
        expect(seen.filter((l) => l.startsWith(`${h} `))).toEqual([
          `${h} start first`,
          `${h} barrier together`,
          `${h} start together`,
        ]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
