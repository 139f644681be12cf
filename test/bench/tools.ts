import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { CLI as SOURCE_CLI } from '../helpers/cli.ts';
import type { Fleet } from './fleet/fleet.ts';
import { type Peak, watchPeak } from './peak.ts';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const OUR_PLAYBOOK = join(REPO, 'test/bench/ours.yaml');
export const ANSIBLE_DIR = join(REPO, 'test/bench/ansible');
/** The benchmark times the CLI as shipped (bin/ over dist/, which `npm run bench` builds first);
 *  tests borrowing these helpers (vitest sets VITEST) run it from src/ like every other test. */
const CLI = process.env.VITEST ? SOURCE_CLI : join(REPO, 'bin/ramster-provision.js');

/** Every path either playbook creates (the reset removes them; rc.local and fstab are restored). */
export const MANAGED_PATHS = [
  '/usr/sbin/ramster-ctl',
  '/etc/systemd/system/ramster.service',
  '/etc/systemd/system/ramster.service.d',
  '/etc/init.d/ramster',
  '/etc/ramster.conf',
  '/etc/default/ramster',
  '/etc/systemd/system/ramster-swapoff.service',
];

export interface ToolRun {
  /** Wall time of the whole command, process start to exit. */
  seconds: number;
  /** Per host: changed steps/tasks. */
  changed: Map<string, number>;
  failed: string[];
  unreachable: string[];
  /** ramster-provision only: why a host failed or was unreachable, per host. */
  errors?: Map<string, string>;
  /** ramster-provision only: remote commands per host, and the engine's own duration. */
  roundTrips?: Map<string, number>;
  engineSeconds?: number;
  /** The controller's peak memory and descriptors (the command's whole process tree). */
  peak: Peak;
}

export class ToolError extends Error {}

/** `ramster-provision apply|plan --json` on the fleet (`forks` 0: the CLI's default). */
export async function runOurs(
  fleet: Pick<Fleet, 'inventory'>,
  forks: number,
  mode: 'apply' | 'plan' = 'apply',
  playbook = OUR_PLAYBOOK,
  extra: string[] = [],
): Promise<ToolRun & { exitCode: number }> {
  const started = performance.now();
  const child = execa(
    'node',
    [CLI, mode, '-i', fleet.inventory, playbook, '--json', ...(forks > 0 ? ['--forks', String(forks)] : []), ...extra],
    {
      reject: false,
      env: { NO_COLOR: '1' },
    },
  );
  const watch = watchPeak(child.pid!);
  const r = await child;
  const seconds = (performance.now() - started) / 1000;
  const peak = watch.stop();
  let doc: {
    durationMs: number;
    hosts: { host: string; status: string; roundTrips: number; counts: { changed: number }; error?: string }[];
  };
  try {
    doc = JSON.parse(r.stdout);
  } catch {
    throw new ToolError(
      `ramster-provision ${mode} printed no JSON (exit ${r.exitCode}):\n${r.stderr.split('\n').slice(-20).join('\n')}`,
    );
  }
  return {
    exitCode: r.exitCode ?? -1,
    seconds,
    peak,
    engineSeconds: doc.durationMs / 1000,
    changed: new Map(doc.hosts.map((h) => [h.host, h.counts.changed])),
    failed: doc.hosts.filter((h) => h.status === 'failed').map((h) => h.host),
    unreachable: doc.hosts.filter((h) => h.status === 'unreachable').map((h) => h.host),
    roundTrips: new Map(doc.hosts.map((h) => [h.host, h.roundTrips])),
    errors: new Map(doc.hosts.filter((h) => h.error).map((h) => [h.host, h.error!])),
  };
}

/** Wall seconds of `--help` and of `validate` on the example inventory (no host involved):
 *  what starting the CLI costs before any work. */
export async function cliStartup(runs: number): Promise<{ help: number[]; validate: number[] }> {
  const time = async (...args: string[]) => {
    const started = performance.now();
    const r = await execa('node', [CLI, ...args], { reject: false, cwd: REPO });
    if (r.exitCode !== 0)
      throw new ToolError(`ramster-provision ${args.join(' ')} failed (exit ${r.exitCode}):\n${r.stderr}`);
    return (performance.now() - started) / 1000;
  };
  const out = { help: [] as number[], validate: [] as number[] };
  for (let i = 0; i < runs; i++) {
    out.help.push(await time('--help'));
    out.validate.push(await time('validate', 'playbooks/inventory.example.yaml'));
  }
  return out;
}

/** `ansible-playbook` on the same fleet; its recap comes from the json callback. Each run opens
 *  its own ControlMaster connections and closes them afterwards, as ramster-provision does.
 *  `check`: `--check --diff`, Ansible's dry run (what `ramster-provision plan` does). */
export async function runAnsible(fleet: Fleet, forks: number, mode: 'apply' | 'check' = 'apply'): Promise<ToolRun> {
  const controlDir = join(fleet.dir, `cp-${Date.now()}`);
  mkdirSync(controlDir);
  const env = {
    ANSIBLE_CONFIG: join(ANSIBLE_DIR, 'ansible.cfg'),
    ANSIBLE_SSH_ARGS: `-o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${fleet.knownHostsFile} -o StrictHostKeyChecking=yes`,
    ANSIBLE_SSH_CONTROL_PATH_DIR: controlDir,
    ANSIBLE_FORKS: String(forks),
    ANSIBLE_STDOUT_CALLBACK: 'json',
    ANSIBLE_LOCAL_TEMP: join(fleet.dir, 'ansible-tmp'),
  };
  const started = performance.now();
  const args = [
    '-i',
    fleet.ansibleInventory,
    join(ANSIBLE_DIR, 'site.yml'),
    ...(mode === 'check' ? ['--check', '--diff'] : []),
  ];
  const child = execa('ansible-playbook', args, { reject: false, env });
  const watch = watchPeak(child.pid!);
  const r = await child;
  const seconds = (performance.now() - started) / 1000;
  const peak = watch.stop();
  await closeControlMasters(controlDir);
  let stats: Record<string, { changed: number; failures: number; unreachable: number }>;
  try {
    stats = JSON.parse(r.stdout).stats;
  } catch {
    throw new ToolError(
      `ansible-playbook printed no JSON recap (exit ${r.exitCode}):\n${(r.stderr || r.stdout).split('\n').slice(-20).join('\n')}`,
    );
  }
  return {
    seconds,
    peak,
    changed: new Map(Object.entries(stats).map(([h, s]) => [h, s.changed])),
    failed: Object.entries(stats)
      .filter(([, s]) => s.failures > 0)
      .map(([h]) => h),
    unreachable: Object.entries(stats)
      .filter(([, s]) => s.unreachable > 0)
      .map(([h]) => h),
  };
}

async function closeControlMasters(dir: string): Promise<void> {
  await Promise.all(
    readdirSync(dir).map((sock) =>
      execa('ssh', ['-o', `ControlPath=${join(dir, sock)}`, '-O', 'exit', 'rp-bench'], { reject: false }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
}

export async function ansibleVersion(): Promise<string | undefined> {
  const r = await execa('ansible-playbook', ['--version'], { reject: false });
  return r.exitCode === 0
    ? r.stdout
        .split('\n')[0]
        .replace(/^ansible-playbook\s*/, '')
        .replace(/[[\]]/g, '')
        .trim()
    : undefined;
}

/** Debian's ansible package (with the ansible.posix collection for `mount`), installed when missing. */
export async function ensureAnsible(log: (l: string) => void): Promise<string> {
  let v = await ansibleVersion();
  if (v) return v;
  if (process.getuid?.() !== 0)
    throw new ToolError(
      "ansible-playbook is not installed: run the bench as root (it installs Debian's ansible package) or `apt-get install ansible`",
    );
  log('installing ansible (apt-get)');
  await execa('apt-get', ['install', '-y', 'ansible'], { env: { DEBIAN_FRONTEND: 'noninteractive' } });
  v = await ansibleVersion();
  if (!v) throw new ToolError('ansible-playbook still missing after apt-get install ansible');
  return v;
}

export interface Breakdown {
  /** Median per host: connecting (TCP, key exchange, authentication). */
  connectS: number;
  /** Median duration of one remote command, over every command of every host. */
  commandS: number;
  commandsPerHost: number;
  /** The whole in-process run (no CLI start-up). */
  engineS: number;
}

/** One in-process no-op apply with the SSH transport timed: where a run's time goes. */
export async function breakdown(fleet: Fleet, forks: number): Promise<Breakdown> {
  const [{ loadInventory }, { loadPlaybook }, { runPlaybook }, { openTransport }] = await Promise.all([
    import('../../src/inventory/load.ts'),
    import('../../src/playbook/load.ts'),
    import('../../src/engine/run.ts'),
    import('../../src/engine/connect.ts'),
  ]);
  const inv = await loadInventory(fleet.inventory);
  const pb = await loadPlaybook(OUR_PLAYBOOK);
  const connects: number[] = [];
  const commands: number[] = [];
  const connect = { acceptNewHostKeys: false, connectTimeoutMs: 60_000 };
  const started = performance.now();
  const res = await runPlaybook(inv, pb, {
    apply: true,
    forks,
    connect,
    open: async (h) => {
      const s = performance.now();
      const t = await openTransport(h, connect);
      connects.push((performance.now() - s) / 1000);
      const exec = t.exec.bind(t);
      return Object.assign(t, {
        exec: async (script: string, opts?: Parameters<typeof t.exec>[1]) => {
          const c = performance.now();
          try {
            return await exec(script, opts);
          } finally {
            commands.push((performance.now() - c) / 1000);
          }
        },
      });
    },
  });
  const engineS = (performance.now() - started) / 1000;
  if (res.totals.changed !== 0 || res.totals.failed || res.totals.unreachable)
    throw new ToolError('breakdown run: the hosts were expected converged');
  const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return {
    connectS: mid(connects),
    commandS: mid(commands),
    commandsPerHost: commands.length / res.hosts.length,
    engineS,
  };
}
