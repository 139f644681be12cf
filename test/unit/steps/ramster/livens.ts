import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { ExecOptions, ExecResult, Transport } from '../../../../src/transport/types.ts';

/**
 * STAND-IN FOR A LIVE HOST: a private mount + UTS namespace of this machine in which /etc and
 * /boot are folders of the test and `hostname` changes only the namespace's name. Steps see a
 * "real" host (root '', not a chroot), so their live-host paths run: `uname -n`, `hostname`,
 * grub.cfg regeneration. Tools on PATH first come from `bin/` (e.g. a fake update-grub); the
 * real GRUB tools run in the QEMU lab.
 */
export class NamespaceHost implements Transport {
  readonly kind = 'local' as const;
  readonly root = '';
  readonly target: string;
  roundTrips = 0;
  private constructor(
    readonly dir: string,
    private readonly holder: ChildProcess,
  ) {
    this.target = `ns:${dir}`;
  }

  /** `files` are written below the stand-in's own folders (paths like /etc/hostname, /boot/...). */
  static async start(
    hostname: string,
    files: Record<string, string | { content: string; mode: number }>,
  ): Promise<NamespaceHost> {
    const dir = mkdtempSync(join(tmpdir(), 'rp-nshost-'));
    for (const d of ['etc', 'boot', 'bin']) mkdirSync(join(dir, d));
    // stat -c %U and chown need the user database.
    for (const f of ['passwd', 'group']) cpSync(join('/etc', f), join(dir, 'etc', f));
    for (const [path, spec] of Object.entries(files)) {
      const p = join(dir, path);
      mkdirSync(join(p, '..'), { recursive: true });
      const { content, mode } = typeof spec === 'string' ? { content: spec, mode: 0o644 } : spec;
      writeFileSync(p, content);
      chmodSync(p, mode);
    }
    const setup = `mount --bind ${dir}/etc /etc && mount --bind ${dir}/boot /boot && hostname ${hostname} && echo ready && exec sleep 100000`;
    const holder = spawn(
      'unshare',
      ['--mount', '--uts', '--propagation', 'private', '--fork', '--kill-child', 'sh', '-c', setup],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await new Promise<void>((resolve, reject) => {
      holder.once('error', reject);
      holder.once('exit', (code) => reject(new Error(`namespace holder exited with ${code}`)));
      holder.stdout!.once('data', () => resolve());
    });
    return new NamespaceHost(dir, holder);
  }

  async exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.roundTrips++;
    // The holder is `unshare`; its child (sh exec'd into sleep) is the process inside.
    const inner = (await execa('pgrep', ['-P', String(this.holder.pid)])).stdout.trim().split('\n')[0];
    const r = await execa('nsenter', ['-t', inner, '-m', '-u', '--', 'sh', '-c', script], {
      input: opts.stdin,
      timeout: opts.timeoutMs,
      reject: false,
      stripFinalNewline: false,
      env: { PATH: `${this.dir}/bin:${process.env.PATH}`, LC_ALL: 'C' },
      extendEnv: false,
    });
    return { code: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  }

  async close(): Promise<void> {
    this.holder.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
