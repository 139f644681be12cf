/**
 * `npm run bench:connect`: where the time of an SSH connection set-up goes, per host, against
 * real sshd's on loopback: TCP connect, key exchange (up to the server's host key checked and
 * the keys agreed), authentication, then the first command. Connects every host at once (as
 * the engine does with enough forks), then one at a time, and prints each phase's median and
 * its share of the whole. Then the controller's own share: the per-host work of checking the
 * host key against a known_hosts file of `--known-hosts` hashed entries (as Debian's
 * `HashKnownHosts yes` leaves it) and of reading the login key, the way it was done before
 * (every host reads and parses both files, and looks itself up twice) and as it is now.
 *
 *   npm run bench:connect                                  # 8 hosts, 3 rounds, 2000 entries
 *   npm run bench:connect -- --hosts 16 --rounds 5 --known-hosts 10000
 *   npm run bench:connect -- --jump                        # every host through one bastion
 */
import { createHmac, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HostKeyPolicy } from '../../src/transport/knownhosts.ts';
import { SshTransport, type SshJump } from '../../src/transport/ssh.ts';
import { authPlan } from '../../src/transport/sshauth.ts';
import { startSshd, type Sshd } from '../helpers/sshd.ts';
import { beforeHostSetup } from './connect-before.ts';

const { values: args } = parseArgs({
  options: {
    hosts: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    'known-hosts': { type: 'string', default: '2000' },
    jump: { type: 'boolean', default: false },
  },
});
const N = Number(args.hosts);
const ROUNDS = Number(args.rounds);
const FILLER = Number(args['known-hosts']);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const ms = (n: number) => `${n.toFixed(1)} ms`;

/** A hashed known_hosts line for a host that is not ours, as `ssh-keygen -H` writes them. */
function fillerLine(i: number): string {
  const salt = randomBytes(20);
  const hash = createHmac('sha1', salt).update(`host${i}.example.net`).digest('base64');
  const key = Buffer.concat([
    Buffer.from([0, 0, 0, 11]),
    Buffer.from('ssh-ed25519'),
    Buffer.from([0, 0, 0, 32]),
    randomBytes(32),
  ]);
  return `|1|${salt.toString('base64')}|${hash} ssh-ed25519 ${key.toString('base64')}`;
}

interface Sample {
  /** Jump hosts and the forwarded channel (0 without --jump). */
  jump: number;
  prep: number;
  tcp: number;
  kex: number;
  auth: number;
  exec: number;
  total: number;
}

async function connectAll(
  servers: Sshd[],
  known: string,
  jumps: SshJump[],
  parallel: boolean,
): Promise<{ samples: Sample[]; cpuMs: number; wallMs: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const one = async (s: Sshd): Promise<Sample> => {
    const t = new SshTransport({
      host: s.host,
      port: s.port,
      username: 'root',
      identity: s.identity,
      knownHostsFile: known,
      jumps,
      connectTimeoutMs: 60_000,
    });
    const t0 = performance.now();
    await t.connect();
    const connected = performance.now();
    await t.exec('true');
    const exec = performance.now() - connected;
    await t.close();
    const { prep = 0, tcp = prep, kex = tcp, auth = kex } = t.lastTiming[t.lastTiming.length - 1].timing;
    // Through a jump the target's "TCP connect" is nothing: the forwarded channel is already open.
    return {
      jump: connected - t0 - auth,
      prep,
      tcp: tcp - prep,
      kex: kex - tcp,
      auth: auth - kex,
      exec,
      total: connected - t0 + exec,
    };
  };
  let samples: Sample[];
  if (parallel) samples = await Promise.all(servers.map(one));
  else {
    samples = [];
    for (const s of servers) samples.push(await one(s));
  }
  const c = process.cpuUsage(cpu);
  return { samples, cpuMs: (c.user + c.system) / 1000, wallMs: performance.now() - started };
}

function printPhases(title: string, runs: { samples: Sample[]; cpuMs: number; wallMs: number }[]): void {
  const all = runs.flatMap((r) => r.samples);
  const total = median(all.map((s) => s.total));
  console.log(
    `\n${title}: ${all.length} connections; wall per round ${ms(median(runs.map((r) => r.wallMs)))}, controller CPU per host ${ms(median(runs.map((r) => r.cpuMs)) / N)}`,
  );
  console.log('| phase | median per host | share of the median total |');
  console.log('| --- | --- | --- |');
  const names = {
    jump: 'jump host login + forwarded channel',
    prep: 'ours: known_hosts read, key loaded',
    tcp: 'TCP connect',
    kex: 'key exchange + host key check',
    auth: 'authentication',
    exec: 'first command',
  };
  for (const phase of ['jump', 'prep', 'tcp', 'kex', 'auth', 'exec'] as const) {
    if (phase === 'jump' && !args.jump) continue;
    const m = median(all.map((s) => s[phase]));
    console.log(`| ${names[phase]} | ${ms(m)} | ${((m / total) * 100).toFixed(1)}% |`);
  }
  console.log(`| total | ${ms(total)} | |`);
}

/** The same work now: known_hosts parsed once per run, the host looked up once; the key parsed once. */
function after(known: string, host: string, port: number, blob: Buffer, keyFile: string): boolean {
  const policy = new HostKeyPolicy({ host, port, knownHostsFile: known, acceptNewHostKeys: false, label: host });
  policy.preferredKeyTypes();
  const ok = policy.verify(blob);
  authPlan({ identity: keyFile, label: host });
  return ok;
}

function controllerShare(servers: Sshd[], known: string): void {
  const work = servers.map((s) => ({
    host: s.host,
    port: s.port,
    blob: Buffer.from(s.hostKeyLine.split(' ')[2], 'base64'),
    key: s.identity,
  }));
  const time = (f: typeof after) => {
    const t0 = performance.now();
    for (const w of work)
      if (!f(known, w.host, w.port, w.blob, w.key)) throw new Error(`bench: ${w.host}:${w.port} key does not match`);
    return (performance.now() - t0) / work.length;
  };
  // Alternating, so a change of load hits both alike.
  const b: number[] = [];
  const a: number[] = [];
  for (let i = 0; i < 5; i++) {
    b.push(time(beforeHostSetup));
    a.push(time(after));
  }
  const mb = median(b);
  const ma = median(a);
  console.log(
    `\nController work per host (host key check against ${FILLER + N} known_hosts entries, login key), median of 5 passes over ${N} hosts:`,
  );
  console.log(`  before: ${ms(mb)}   now: ${ms(ma)}   before/now: ${(mb / ma).toFixed(1)}x`);
}

async function main(): Promise<void> {
  console.log(
    `SSH connection set-up, ${N} hosts on loopback sshd${args.jump ? ' through one bastion' : ''} (node ${process.versions.node}, ${cpus().length} cores, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')})`,
  );
  const servers: Sshd[] = [];
  const bastion = args.jump ? await startSshd({ address: '127.0.0.2' }) : undefined;
  try {
    for (let i = 0; i < N; i++) servers.push(await startSshd());
    const known = join(servers[0].dir, 'bench_known_hosts');
    const lines = [...servers.map((s) => s.hostKeyLine), ...(bastion ? [bastion.hostKeyLine] : [])];
    for (let i = 0; i < FILLER; i++) lines.splice(Math.floor(Math.random() * lines.length), 0, fillerLine(i));
    writeFileSync(known, `${lines.join('\n')}\n`);
    const jumps: SshJump[] = bastion
      ? [
          {
            alias: 'bastion',
            host: bastion.host,
            port: bastion.port,
            username: 'root',
            identityFiles: [bastion.identity],
          },
        ]
      : [];
    await connectAll(servers, known, jumps, true); // warm-up
    const parallel = [];
    const sequential = [];
    for (let r = 0; r < ROUNDS; r++) {
      parallel.push(await connectAll(servers, known, jumps, true));
      sequential.push(await connectAll(servers, known, jumps, false));
    }
    printPhases(`All ${N} hosts at once`, parallel);
    printPhases('One host at a time', sequential);
    controllerShare(servers, known);
    console.log(
      `\nload average after: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    await Promise.all([...servers.map((s) => s.stop()), bastion?.stop()]);
  }
}

await main();
