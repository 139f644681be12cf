import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { APT_LOCK_WAIT_S, aptGet } from '../../../src/guestimage/apt.ts';

/** Where the fleet keeps its root filesystem tarball, .deb cache and dockerd log. */
export const BENCH_CACHE = process.env.RAMSTER_BENCH_CACHE || '/var/cache/ramster-provision/bench';

export interface DockerDaemon {
  /** True when this process started dockerd (and stop() ends it again). */
  started: boolean;
  stop(): Promise<void>;
}

export class FleetError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(`${message}\n  how to fix: ${hint}`);
    this.name = 'FleetError';
  }
}

const isRoot = () => process.getuid?.() === 0;

async function daemonAnswers(): Promise<boolean> {
  const r = await execa('docker', ['version', '--format', '{{.Server.Version}}'], { reject: false, timeout: 10_000 });
  return r.exitCode === 0 && r.stdout.trim() !== '';
}

async function have(cmd: string): Promise<boolean> {
  return (await execa('sh', ['-c', `command -v ${cmd}`], { reject: false })).exitCode === 0;
}

/** Makes sure a Docker daemon answers on /var/run/docker.sock: installs Debian's docker.io and
 *  starts dockerd when run as root on a machine that has neither. */
export async function ensureDocker(log: (line: string) => void): Promise<DockerDaemon> {
  if (!(await have('dockerd')) || !(await have('docker'))) {
    if (!isRoot())
      throw new FleetError(
        'Docker is not installed',
        'run as root (the bench installs docker.io itself) or `apt-get install docker.io`',
      );
    log('installing docker.io (apt-get)');
    // Waits (bounded) for apt's locks, which a new machine's own apt run holds at first.
    const apt = { waitS: Number(process.env.APT_LOCK_WAIT) || APT_LOCK_WAIT_S, log };
    await aptGet(['install', '-y', '--no-install-recommends', 'docker.io'], apt).catch((e: Error) => {
      throw new FleetError(e.message, 'run `apt-get update` and try again');
    });
  }
  if (await daemonAnswers()) return { started: false, stop: async () => undefined };
  if (!isRoot())
    throw new FleetError(
      'no Docker daemon answers on /var/run/docker.sock',
      'start dockerd (as root), or run the bench as root so it starts one',
    );

  mkdirSync(BENCH_CACHE, { recursive: true });
  const logFile = join(BENCH_CACHE, 'dockerd.log');
  const fd = openSync(logFile, 'a');
  // No userland proxy: ports published on 127.0.0.1 go through iptables instead of one
  // docker-proxy process per port copying every byte (64 hosts = 64 proxies on 2 cores).
  const proc = spawn('dockerd', ['--userland-proxy=false'], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited = false;
  proc.on('exit', () => (exited = true));
  log(`started dockerd (pid ${proc.pid}, log ${logFile})`);
  const deadline = Date.now() + 60_000;
  while (!(await daemonAnswers())) {
    if (exited || Date.now() > deadline) {
      if (!exited) process.kill(proc.pid!, 'SIGTERM');
      throw new FleetError(
        `dockerd did not come up (see ${logFile})`,
        'read the end of that log; Docker needs cgroups, overlayfs and iptables',
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  proc.unref();
  return {
    started: true,
    stop: async () => {
      if (exited) return;
      const gone = new Promise((r) => proc.once('exit', r));
      process.kill(proc.pid!, 'SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 20_000))]);
    },
  };
}
