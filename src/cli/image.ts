import { type Command, Option } from 'commander';
import { DISK_SIZE_MB } from '../guestimage/recipe.ts';
import { positiveInt } from './flags.ts';
import { DEFAULT_PLAYBOOK } from './run.ts';

// Loaded when the command runs (--help reads every command's definition).
const buildImageCommand: typeof import('./actions/image.ts').buildImageCommand = async (...a) =>
  (await import('./actions/image.ts')).buildImageCommand(...a);

export function registerImage(program: Command, setCode: (c: number) => void): void {
  const image = program
    .command('image')
    .description('CI image builds: bake one inventory host into a bootable disk image');

  image
    .command('build')
    .description(
      'apply the playbook to a fresh Debian 12 root filesystem for one host (chroot), then write a bootable disk image',
    )
    .argument('[playbook]', 'playbook YAML', DEFAULT_PLAYBOOK)
    .requiredOption(
      '-i, --inventory <file>',
      'inventory YAML; the host keeps its cluster, node number, hostname and variables',
    )
    .requiredOption('--host <name>', 'inventory name of the host the image is for')
    .requiredOption('-o, --output <file>', 'disk image to write: *.qcow2, or *.raw / *.img for a raw disk')
    .option('--authorized-key <file>', "root's authorized_keys in the image (default: the lab key's .pub)")
    .option('--host-key <file>', 'ed25519 private key to use as the SSH host key (default: a new one)')
    .addOption(
      new Option('--cluster-prefix <bits>', 'prefix length of the cluster address on the second NIC')
        .default(24)
        .argParser(positiveInt),
    )
    .option('--cluster-mac <mac>', 'MAC of the cluster NIC (default: every Ethernet NIC but the first)')
    .addOption(new Option('--size <MiB>', 'disk size').default(DISK_SIZE_MB).argParser(positiveInt))
    .option(
      '--cache <dir>',
      'lab cache: base root filesystem, .deb cache, lab key (default: RAMSTER_LAB_CACHE or /var/cache/ramster-provision/lab)',
    )
    .option('--fresh-base', 'run mmdebstrap again instead of using the cached base root filesystem', false)
    .option('--step-timeout <s>', 'abandon any single command in the chroot after this many seconds', positiveInt)
    .option('-D, --diff', 'print the diff of every change made in the image', false)
    .option('-v, --verbose', 'also list steps that were already in the desired state', false)
    .option(
      '--json',
      'print one JSON document (the run result plus an `image` section) on stdout; logs go to stderr',
      false,
    )
    .option('--no-color', 'no ANSI colours (also: NO_COLOR=1)')
    .addHelpText(
      'after',
      `
Next to the image it writes <name>.known_hosts with the new SSH host key under the inventory
address (and hostname), so the first connection is verified:

  $ ramster-provision image build -i inventory.yaml --host node1 -o node1.qcow2
  $ ramster-provision apply -i inventory.yaml --limit node1 --known-hosts node1.known_hosts

Steps that need a running kernel (live bring-up, verification, the cluster reboot) are
deferred to the first apply on the booted host and listed at the end; the boot parameters
the grub step writes are baked into the image's grub.cfg. Needs root. The image and its
known_hosts file appear only when complete.

Exit codes: 0 image written; 1 bad input or a build error; 3 the playbook failed (no image);
130 interrupted (no image).`,
    )
    .action((playbook: string, o) => buildImageCommand(playbook, o, setCode));
}
