import { hostPath, type Transport } from '../../transport/types.ts';
import { isImageTarget } from './cluster.ts';
import { grubDefaultCheck, unquoteShellValue, type GrubDefaultState } from '../../kernel/grub-entries.ts';
import { KEY_FILE, parseKeyFile, type InstalledKernel, type PackageFormat } from '../../kernel/plan.ts';
import { commandFailed, shq } from '../../shell.ts';
import { bodyLines, framed, type Frames } from '../../frame.ts';

/**
 * A node's side of kernel_build: what it has installed (the key file, checked against the
 * package database), its boot loader's default entry, installing the package and making its
 * kernel the default. Commands for a folder target run through `chroot <root>`.
 */
export type BootLoader = 'grubby' | 'grub' | 'none';

export interface NodeReading {
  /** The key file's build, only while its kernel is still installed. */
  installed?: InstalledKernel;
  /** The key file's build, installed or not. */
  recorded?: InstalledKernel;
  loader: BootLoader;
  grubbyDefault?: string;
  grub?: GrubDefaultState;
}

const prelude = (t: Transport) => `R=${shq(t.root)}
in_root() { if [ -n "$R" ]; then chroot "$R" "$@"; else "$@"; fi; }`;

/** Paths through hostPath: on a folder target, inside the folder only. */
const bootState = (t: Transport) => {
  const p = (path: string) => shq(hostPath(t, path));
  return `
if [ -x ${p('/usr/sbin/grubby')} ] || [ -x ${p('/sbin/grubby')} ]; then
  rp_frame loader grubby; rp_frame grubby_default; in_root grubby --default-kernel 2>/dev/null || true
elif [ -f ${p('/boot/grub/grub.cfg')} ] && { [ -x ${p('/usr/bin/grub-editenv')} ] || [ -x ${p('/usr/sbin/grub-editenv')} ]; }; then
  rp_frame loader grub
  rp_frame grub_default; sed -n 's/^GRUB_DEFAULT=//p' ${p('/etc/default/grub')} 2>/dev/null | tail -n 1
  rp_frame saved_entry; sed -n 's/^saved_entry=//p' ${p('/boot/grub/grubenv')} 2>/dev/null | tail -n 1
  rp_frame cfg; grep -E '^[[:space:]]*(submenu|menuentry)[[:space:]]' ${p('/boot/grub/grub.cfg')} || true
else rp_frame loader none; fi`;
};

async function sh(t: Transport, script: string, what: string, timeoutMs = 600_000): Promise<string> {
  const r = await t.exec(script, { timeoutMs });
  if (r.code !== 0) throw new Error(commandFailed(what, r, { on: t.target, lines: 10 }));
  return r.stdout;
}

export function parseNodeReading(frames: Frames): NodeReading {
  const line = (name: string) => bodyLines(frames.body(name))[0] ?? '';
  const keyText = frames.body('key');
  const recorded = keyText ? parseKeyFile(keyText) : undefined;
  const installed = frames.has('owned') ? recorded : undefined;
  const loader = (frames.get('loader')?.key || 'none') as BootLoader;
  return {
    installed,
    recorded,
    loader,
    grubbyDefault: loader === 'grubby' ? line('grubby_default') : undefined,
    grub:
      loader === 'grub'
        ? {
            grubDefault: unquoteShellValue(line('grub_default')),
            savedEntry: line('saved_entry'),
            cfg: frames.body('cfg'),
          }
        : undefined,
  };
}

/** One command: the key file, whether its kernel is still installed, the boot loader state. */
export async function readNode(t: Transport, timeoutMs?: number): Promise<NodeReading> {
  const script = `${prelude(t)}
kf=${shq(hostPath(t, KEY_FILE))}
if [ -f "$kf" ]; then
  rp_frame key; cat "$kf"
  rel=$(sed -n 's/^release=//p' "$kf")
  case $rel in */*|..*|-*) rel=;; esac
  if [ -n "$rel" ] && [ -f ${shq(hostPath(t, '/boot'))}/"vmlinuz-$rel" ] && { in_root dpkg-query -S "/boot/vmlinuz-$rel" >/dev/null 2>&1 || in_root rpm -qf "/boot/vmlinuz-$rel" >/dev/null 2>&1; }; then rp_frame owned; fi
fi
${bootState(t)}`;
  const f = framed(script);
  return parseNodeReading(f.read(await sh(t, f.script, 'reading the installed kernel', timeoutMs)));
}

export type DefaultCheck = { ok: true } | { ok: false; was: string } | { na: string };

/** Whether `release` is the default boot entry; `na` when this host's boot entry is not ours to set. */
export function checkDefault(t: Transport, r: NodeReading, release: string): DefaultCheck {
  if (isImageTarget(t))
    return { na: `${t.target} is an image: its boot loader picks the newest kernel when it is installed` };
  if (r.loader === 'none') return { na: 'no GRUB or grubby found: the default boot entry is not set' };
  if (r.loader === 'grubby')
    return r.grubbyDefault === `/boot/vmlinuz-${release}`
      ? { ok: true }
      : { ok: false, was: r.grubbyDefault || 'none' };
  const c = grubDefaultCheck(r.grub!, release);
  return c.ok ? { ok: true } : { ok: false, was: c.was };
}

/** A kernel built without initramfs support (CONFIG_BLK_DEV_INITRD unset, like the all-built-in
 *  RAMster guest kernel) must not get one: Debian's initramfs hook skips it when INITRD=No,
 *  which newer kernels' bindeb-pkg exports itself and 3.10's does not. Then update-grub, seeing
 *  no initrd, boots it with root=<device> instead of root=UUID= (which needs an initramfs). */
const DEB_INSTALL = `cfg=$(in_root sh -c 'dpkg-deb --fsys-tarfile "$1" | tar -xOf - --wildcards "./boot/config-*"' sh "$pkg" 2>/dev/null || true)
initrd=Yes
if [ -n "$cfg" ] && ! printf '%s\\n' "$cfg" | grep -q '^CONFIG_BLK_DEV_INITRD=y'; then initrd=No; fi
in_root env DEBIAN_FRONTEND=noninteractive INITRD="$initrd" dpkg -i "$pkg"`;

export async function installPackage(
  t: Transport,
  path: string,
  format: PackageFormat,
  timeoutMs = 1_800_000,
): Promise<void> {
  const cmd = format === 'deb' ? `pkg=${shq(path)}\n${DEB_INSTALL}` : `in_root rpm -i --replacepkgs ${shq(path)}`;
  await sh(t, `${prelude(t)}\n${cmd}`, `installing ${path}`, timeoutMs);
}

const REGEN = `if in_root sh -c 'command -v update-grub' >/dev/null 2>&1; then in_root update-grub; else in_root grub-mkconfig -o /boot/grub/grub.cfg; fi`;

/** Makes `release` the default boot entry and reads it back. */
export async function makeDefault(
  t: Transport,
  release: string,
  log: (l: string) => void,
  timeoutMs = 600_000,
): Promise<void> {
  let r = await readNode(t, timeoutMs);
  if (r.loader === 'grubby') {
    await sh(
      t,
      `${prelude(t)}\nin_root grubby --set-default=${shq(`/boot/vmlinuz-${release}`)}`,
      'grubby --set-default',
      timeoutMs,
    );
  } else if (r.loader === 'grub') {
    let c = grubDefaultCheck(r.grub!, release);
    if (!c.entry) {
      log(`no GRUB entry for ${release} yet: regenerating grub.cfg`);
      await sh(t, `${prelude(t)}\n${REGEN}`, 'update-grub', timeoutMs);
      r = await readNode(t, timeoutMs);
      c = grubDefaultCheck(r.grub!, release);
      if (!c.entry)
        throw new Error(
          `no GRUB menu entry for Linux ${release} in /boot/grub/grub.cfg after update-grub: is /boot/vmlinuz-${release} there?`,
        );
    }
    if (r.grub!.grubDefault !== 'saved') {
      const file = shq(hostPath(t, '/etc/default/grub'));
      await sh(
        t,
        `${prelude(t)}\nset -e\nif grep -q '^GRUB_DEFAULT=' ${file}; then sed -i 's/^GRUB_DEFAULT=.*/GRUB_DEFAULT=saved/' ${file}; else echo GRUB_DEFAULT=saved >> ${file}; fi\n${REGEN}`,
        'setting GRUB_DEFAULT=saved',
        timeoutMs,
      );
    }
    await sh(
      t,
      `${prelude(t)}\nin_root grub-editenv /boot/grub/grubenv set saved_entry=${shq(c.entry)}`,
      'grub-editenv set saved_entry',
      timeoutMs,
    );
  } else return;
  const after = checkDefault(t, await readNode(t, timeoutMs), release);
  if ('ok' in after && !after.ok)
    throw new Error(
      `Linux ${release} is still not the default boot entry on ${t.target} after setting it (found ${after.was})`,
    );
}
