/**
 * Everything the modern backend's steps, `verify`, `status` and `doctor` read from a node, in
 * ONE read-only shell command: nvmet's configfs tree (our subsystems only), the lend files'
 * allocated size, NVMe host controllers and namespaces with their I/O counters, md, swap,
 * zswap parameters and counters, our units, the conf file and the kernel's recent messages.
 */
import { bodyLines, type Frames } from '../frame.ts';
import { AUTH_DIR } from './auth.ts';
import { LEND_DIR, NQN_PREFIX } from './plan.ts';

export const MODERN_PROBE_SCRIPT = `
v() { cat "$1" 2>/dev/null | tr '\\n' ' ' | sed 's/ *$//'; }
N=/sys/kernel/config/nvmet
rp_frame modules; for m in nvmet nvmet_tcp nvme_tcp nvme_fabrics md_mod raid1; do [ -d /sys/module/$m ] && echo $m; done
rp_frame available; for m in nvmet nvmet-tcp nvme-tcp raid1 dm-crypt; do modinfo -n $m >/dev/null 2>&1 && echo $m; done; echo "kernel $(uname -r)"
rp_frame nvmet
if [ -d $N ]; then
  for p in $N/ports/*; do [ -d "$p" ] || continue
    echo "port \${p##*/} $(v $p/addr_trtype) $(v $p/addr_adrfam) $(v $p/addr_traddr) $(v $p/addr_trsvcid)"
    for l in $p/subsystems/*; do [ -L "$l" ] && echo "link \${p##*/} \${l##*/}"; done
  done
  for s in $N/subsystems/${NQN_PREFIX}*; do [ -d "$s" ] || continue
    echo "subsystem \${s##*/} $(v $s/attr_allow_any_host)"
    for h in $s/allowed_hosts/*; do [ -L "$h" ] && echo "allowed \${s##*/} \${h##*/}"; done
    for n in $s/namespaces/*; do [ -d "$n" ] && echo "namespace \${s##*/} \${n##*/} $(v $n/enable) $(v $n/buffered_io) $(v $n/device_path)"; done
  done
fi
rp_frame files; for f in ${LEND_DIR}/*; do [ -f "$f" ] && echo "$f $(stat -c '%s %b %B' "$f")"; done
rp_frame controllers
for c in /sys/class/nvme/nvme*; do [ -d "$c" ] || continue
  echo "\${c##*/} $(v $c/transport) $(v $c/state) $(v $c/subsysnqn) $(v $c/address)"
done
rp_frame namespaces
for d in /sys/block/nvme*; do [ -d "$d" ] || continue
  echo "\${d##*/} $(v $d/size) $(v $d/device/subsysnqn) $(v $d/stat)"
done
rp_frame mdstat; cat /proc/mdstat 2>/dev/null
rp_frame mdlinks; for l in /dev/md/*; do [ -L "$l" ] && echo "$l $(readlink -f "$l")"; done
rp_frame crypt
for d in /sys/block/dm-*; do [ -d "$d" ] || continue; n=$(v $d/dm/name); s=$(ls $d/slaves 2>/dev/null | tr '\\n' ',')
  echo "dm \${d##*/} $n \${s:-none} $(dmsetup table "$n" 2>/dev/null | awk 'NR == 1 { print $3, $4, (/ allow_discards/ ? "discards" : "-") }')"
done
rp_frame swaps; tail -n +2 /proc/swaps
rp_frame swaplabels; for d in $(tail -n +2 /proc/swaps | cut -d' ' -f1); do echo "$d $(blkid -o value -s LABEL "$d" 2>/dev/null)"; done
rp_frame zswap; for f in /sys/module/zswap/parameters/*; do [ -f "$f" ] && echo "\${f##*/} $(v $f)"; done
rp_frame zswapstats; for f in /sys/kernel/debug/zswap/*; do [ -f "$f" ] && echo "\${f##*/} $(v $f)"; done
rp_frame units; for u in ramster-lend.service ramster-borrow.service; do echo "$u $(systemctl is-enabled $u 2>/dev/null || true) $(systemctl is-active $u 2>/dev/null || true)"; done
rp_frame meminfo; grep -E '^(MemTotal|MemAvailable|SwapTotal|SwapFree):' /proc/meminfo
rp_frame dmesg; dmesg 2>/dev/null | grep -E 'nvme|nvmet|md/raid1|md[0-9]|zswap|swap' | tail -n 60
rp_frame auth
k() { if [ -e "$1" ]; then s=$(cat "$1" 2>/dev/null); case $s in ''|none) echo none ;; *) printf %s "$s" | sha256sum | cut -c1-12 ;; esac; else echo absent; fi; }
c=/boot/config-$(uname -r); [ -r "$c" ] && grep -E '^# CONFIG_NVME_(HOST_|TARGET_|)AUTH is not set|^CONFIG_NVME_(HOST_|TARGET_|)AUTH=' "$c"
[ -d $N ] && for h in $N/hosts/${NQN_PREFIX}*; do [ -d "$h" ] && echo "hostkey \${h##*/} $(k $h/dhchap_key) $(k $h/dhchap_ctrl_key)"; done
for c in /sys/class/nvme/nvme*; do [ -d "$c" ] && echo "ctrlkey \${c##*/} $(k $c/dhchap_secret) $(k $c/dhchap_ctrl_secret)"; done
for f in ${AUTH_DIR}/*; do [ -f "$f" ] && echo "keyfile $f $(stat -c %a "$f")"; done
rp_frame end
`;

export interface Controller {
  name: string;
  transport: string;
  state: string;
  subsystem: string;
  address: string;
}

export interface BlockDevice {
  name: string;
  sectors: number;
  subsystem: string;
  /** /sys/block/<dev>/stat fields. */
  stat: number[];
}

export interface ModernProbe {
  modules: string[];
  /** Modules this kernel can load (modinfo finds them), and its release. */
  available: string[];
  kernel: string;
  ports: { id: string; trtype: string; adrfam: string; traddr: string; trsvcid: string }[];
  links: { port: string; subsystem: string }[];
  subsystems: { name: string; allowAnyHost: string }[];
  allowed: { subsystem: string; host: string }[];
  namespaces: { subsystem: string; nsid: string; enable: string; bufferedIo: string; path: string }[];
  /** Lend files: apparent size and bytes really allocated (RAM held for the borrower). */
  files: { path: string; size: number; allocated: number }[];
  controllers: Controller[];
  blockDevices: BlockDevice[];
  mdstat: string;
  /** device-mapper devices (dm-crypt under the swap): the key is never read. */
  crypt: { dm: string; name: string; slaves: string[]; target: string; cipher: string; discards: boolean }[];
  /** /dev/md/<name> -> /dev/mdN */
  mdLinks: Map<string, string>;
  swaps: { device: string; type: string; sizeKb: number; usedKb: number; priority: number; label: string }[];
  zswap: Record<string, string>;
  zswapStats: Record<string, number>;
  units: Record<string, { enabled: string; active: string }>;
  meminfoKb: Record<string, number>;
  dmesg: string[];
  /** NVMe in-band authentication: the kernel's config (true: =y or =m, false: not set,
   *  undefined: no /boot/config), and the keys in use as short digests (auth.ts keyDigest),
   *  'none' or 'absent' (the kernel has no such attribute). */
  auth: {
    hostAuth?: boolean;
    targetAuth?: boolean;
    /** nvmet host entries of ours: host NQN -> digests. */
    hostKeys: Map<string, { key: string; ctrlKey: string }>;
    /** host controllers: nvmeX -> digests. */
    ctrlKeys: Map<string, { secret: string; ctrlSecret: string }>;
    /** key files in /etc/ramster/auth and their mode. */
    keyFiles: Map<string, string>;
  };
}

export function parseModernProbe(frames: Frames): ModernProbe {
  const get = probeSections(frames);
  return {
    modules: get('modules').map((l) => l.trim()),
    available: get('available')
      .filter((l) => !l.startsWith('kernel '))
      .map((l) => l.trim()),
    kernel:
      get('available')
        .find((l) => l.startsWith('kernel '))
        ?.slice(7)
        .trim() ?? '',
    ...parseNvmet(get('nvmet')),
    files: get('files').map((l) => {
      const [path, size, blocks, blockSize] = words(l);
      return { path, size: Number(size), allocated: Number(blocks) * Number(blockSize) };
    }),
    controllers: get('controllers').map((l) => {
      const [name, transport, state, subsystem, ...address] = words(l);
      return { name, transport, state, subsystem, address: address.join(' ') };
    }),
    blockDevices: get('namespaces').map((l) => {
      const [name, sectors, ...rest] = words(l);
      // a path device (nvme0c0n1) has no subsystem nqn of its own: its stat follows directly
      const subsystem = rest[0] && !/^\d+$/.test(rest[0]) ? rest.shift()! : '';
      return { name, sectors: Number(sectors), subsystem, stat: rest.map(Number) };
    }),
    mdstat: get('mdstat').join('\n'),
    crypt: get('crypt').map(parseDm),
    mdLinks: new Map(get('mdlinks').map((l) => words(l) as [string, string])),
    swaps: parseSwaps(get('swaps'), get('swaplabels')),
    zswap: Object.fromEntries(get('zswap').map((l) => [words(l)[0], words(l).slice(1).join(' ')])),
    zswapStats: Object.fromEntries(get('zswapstats').map((l) => [words(l)[0], Number(words(l)[1])])),
    units: Object.fromEntries(
      get('units').map((l) => [words(l)[0], { enabled: words(l)[1] ?? 'unknown', active: words(l)[2] ?? 'unknown' }]),
    ),
    meminfoKb: Object.fromEntries(
      get('meminfo').map((l) => [l.split(':')[0], Number(words(l.split(':')[1] ?? '')[0])]),
    ),
    dmesg: get('dmesg'),
    auth: parseAuth(get('auth')),
  };
}

const words = (l: string) => l.trim().split(/\s+/);

/** The probe's output by section: the non-blank lines of each (none for a missing one). */
function probeSections(frames: Frames): (name: string) => string[] {
  return (name: string) => bodyLines(frames.body(name)).filter((l) => l.trim());
}

/** The nvmet configfs tree: one line per port, link, subsystem, allowed host and namespace. */
function parseNvmet(lines: string[]): Pick<ModernProbe, 'ports' | 'links' | 'subsystems' | 'allowed' | 'namespaces'> {
  const p: Pick<ModernProbe, 'ports' | 'links' | 'subsystems' | 'allowed' | 'namespaces'> = {
    ports: [],
    links: [],
    subsystems: [],
    allowed: [],
    namespaces: [],
  };
  for (const l of lines) {
    const [kind, a, b, c, d, e] = words(l);
    if (kind === 'port') p.ports.push({ id: a, trtype: b ?? '', adrfam: c ?? '', traddr: d ?? '', trsvcid: e ?? '' });
    if (kind === 'link') p.links.push({ port: a, subsystem: b });
    if (kind === 'subsystem') p.subsystems.push({ name: a, allowAnyHost: b ?? '' });
    if (kind === 'allowed') p.allowed.push({ subsystem: a, host: b });
    if (kind === 'namespace')
      p.namespaces.push({ subsystem: a, nsid: b, enable: c ?? '', bufferedIo: d ?? '', path: e ?? '' });
  }
  return p;
}

/** One device-mapper line: `dm <dm-N> <name> <slaves,> <target> <cipher> <discards|->`. */
function parseDm(l: string): ModernProbe['crypt'][number] {
  const [, dm, name, slaves, target, cipher, discards] = words(l);
  return {
    dm,
    name: name ?? '',
    slaves: (slaves ?? '').split(',').filter((x) => x && x !== 'none'),
    target: target ?? '',
    cipher: cipher ?? '',
    discards: discards === 'discards',
  };
}

/** /proc/swaps, each device with its label. */
function parseSwaps(lines: string[], labelLines: string[]): ModernProbe['swaps'] {
  const labels = new Map(labelLines.map((l) => [words(l)[0], words(l)[1] ?? '']));
  return lines.map((l) => {
    const [device, type, size, used, priority] = words(l);
    return {
      device,
      type,
      sizeKb: Number(size),
      usedKb: Number(used),
      priority: Number(priority),
      label: labels.get(device) ?? '',
    };
  });
}

/** The kernel's NVMe auth config and the digests of the keys in use. */
function parseAuth(lines: string[]): ModernProbe['auth'] {
  const auth: ModernProbe['auth'] = { hostKeys: new Map(), ctrlKeys: new Map(), keyFiles: new Map() };
  // the host side is CONFIG_NVME_HOST_AUTH since Linux 6.7, CONFIG_NVME_AUTH before (6.1)
  let oldHostAuth: boolean | undefined;
  for (const l of lines) {
    const config = /^(?:# )?CONFIG_NVME_(HOST_|TARGET_|)AUTH(?:=([ym])| is not set)/.exec(l);
    if (config) {
      const on = config[2] === 'y' || config[2] === 'm';
      if (config[1] === 'HOST_') auth.hostAuth = on;
      else if (config[1] === 'TARGET_') auth.targetAuth = on;
      else oldHostAuth = on;
      continue;
    }
    const [kind, a, b, c] = words(l);
    if (kind === 'hostkey') auth.hostKeys.set(a, { key: b ?? 'none', ctrlKey: c ?? 'none' });
    if (kind === 'ctrlkey') auth.ctrlKeys.set(a, { secret: b ?? 'absent', ctrlSecret: c ?? 'absent' });
    if (kind === 'keyfile') auth.keyFiles.set(a, b ?? '');
  }
  if (auth.hostAuth === undefined && oldHostAuth !== undefined) auth.hostAuth = oldHostAuth;
  return auth;
}
