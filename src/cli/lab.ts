import { type Command, Option } from 'commander';
import { EXIT } from '../engine/result.ts';
import { defaultLabDir } from '../guestimage/paths.ts';
import { positiveInt } from './flags.ts';

// Loaded when a lab command runs (--help reads every command's definition).
const labModule = () => import('../lab/index.ts');

const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);

export function registerLab(program: Command, setCode: (c: number) => void): void {
  const lab = program
    .command('lab')
    .description('a RAMster-ready cluster of QEMU guests on this machine (Debian 12, booting through GRUB)')
    .addHelpText(
      'after',
      `
The guest image is built once (mmdebstrap with this machine's apt sources) and cached in
/var/cache/ramster-provision/lab (RAMSTER_LAB_CACHE overrides). Guests get SSH on 127.0.0.1
forwarded ports and a private cluster network (10.99.0.0/24) that never leaves the machine.
'lab up' writes <dir>/inventory.yaml and <dir>/known_hosts with the guests' real host keys:

  $ ramster-provision lab up --install-deps
  $ ramster-provision plan  -i lab/inventory.yaml
  $ ramster-provision apply -i lab/inventory.yaml
  $ ramster-provision lab down`,
    );
  registerLabUp(lab);
  registerLabStatus(lab, setCode);
  registerLabDown(lab);
}

const dirOption = () => new Option('--dir <dir>', 'lab directory').default(defaultLabDir());

function registerLabUp(lab: Command): void {
  lab
    .command('up')
    .description('build the image if needed, boot the guests, write the inventory')
    .addOption(
      new Option('-n, --nodes <n>', 'number of guests (1-8; at most 2 run well on 2 cores)')
        .default(2)
        .argParser(positiveInt),
    )
    .addOption(new Option('-m, --memory <MiB>', 'memory per guest').default(1024).argParser(positiveInt))
    .addOption(
      new Option('--backend <backend>', 'RAMster backend written into the inventory')
        .choices(['legacy', 'modern'])
        .default('legacy'),
    )
    .addOption(
      new Option(
        '--kernel <kernel>',
        "guests' kernel: debian (Debian 12's, systemd) or ramster (sysvinit image; the inventory builds staging RAMster, Linux 3.10, on this machine and installs it)",
      )
        .choices(['debian', 'ramster'])
        .default('debian'),
    )
    .addOption(
      new Option(
        '--distro <release>',
        "guests' Debian release: bookworm (12, kernel 6.1) or trixie (13, kernel 6.12: NVMe in-band authentication and NVMe/TCP TLS), from this machine's own apt mirror; --kernel ramster needs bookworm",
      )
        .choices(['bookworm', 'trixie'])
        .default('bookworm'),
    )
    .option('--install-deps', 'apt-get install missing prerequisites (needs root)', false)
    .option('--fresh', 'recreate guest disks and host keys even if they exist', false)
    .addOption(dirOption())
    .action(async (o) => {
      const { labUp, describeLab } = await labModule();
      const state = await labUp({
        nodes: o.nodes,
        memoryMb: o.memory,
        backend: o.backend,
        kernel: o.kernel,
        distro: o.distro,
        dir: o.dir,
        installDeps: o.installDeps,
        fresh: o.fresh,
        log,
      });
      process.stdout.write(`${describeLab(state)}\n`);
    });
}

function registerLabStatus(lab: Command, setCode: (c: number) => void): void {
  lab
    .command('status')
    .description('each guest: running, SSH reachable')
    .addOption(dirOption())
    .action(async (o) => {
      const { labStatus, formatLabStatus } = await labModule();
      const st = await labStatus(o.dir);
      process.stdout.write(`${formatLabStatus(st)}\n`);
      if (st.guests.some((g) => !g.running)) setCode(EXIT.HOST_UNREACHABLE);
    });
}

function registerLabDown(lab: Command): void {
  lab
    .command('down')
    .description('stop every guest this lab started (QMP quit, then its pid); leaves no process')
    .addOption(dirOption())
    .action(async (o) => {
      const { stopped } = await (await labModule()).labDown(o.dir, log);
      process.stdout.write(stopped.length ? `stopped: ${stopped.join(', ')}\n` : 'no guest was running\n');
    });
}
