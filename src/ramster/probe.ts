import type { Frames } from '../frame.ts';

/** One read-only shell script that collects everything verify/status/doctor look at, in
 *  sections, so each host costs one remote command. */

export const PROBE_SECTIONS = [
  'kernel',
  'cmdline',
  'kconfig',
  'dmesg',
  'sysfs',
  'dirs',
  'configfs',
  'ctl_status',
  'counters',
  'conf_sha256',
  'tools',
  'rclocal',
  'shutdown_unit',
  'hostname',
] as const;
export type ProbeSection = (typeof PROBE_SECTIONS)[number];
export type Probe = Record<ProbeSection, string>;

const SYMBOLS = 'RAMSTER|RAMSTER_DEBUG|ZCACHE|ZCACHE2|ZCACHE_DEBUG|CLEANCACHE|FRONTSWAP|CONFIGFS_FS|DEBUG_FS';

export const PROBE_SCRIPT = `
s() { rp_frame "$1"; }
s kernel; uname -r
s cmdline; cat /proc/cmdline
s kconfig; { if [ -r /boot/config-$(uname -r) ]; then cat /boot/config-$(uname -r); elif [ -r /proc/config.gz ]; then zcat /proc/config.gz; fi; } 2>/dev/null | grep -E '^(# )?CONFIG_(${SYMBOLS})[= ]'
s dmesg; dmesg 2>/dev/null | grep -iE 'ramster|zcache|r2net' | grep -vE '] sig [0-9]+ to [[0-9]+:' | tail -n 500
s sysfs; grep -H . /sys/kernel/mm/ramster/* 2>/dev/null
s dirs; for d in /sys/kernel/mm/ramster /sys/kernel/debug/ramster /sys/kernel/debug/zcache /sys/kernel/config/cluster; do [ -d $d ] && echo $d; done; grep -E ' /sys/kernel/(debug|config) ' /proc/self/mounts | cut -d' ' -f2,3
s configfs; for f in /sys/kernel/config/cluster/*/node/*/num /sys/kernel/config/cluster/*/node/*/local /sys/kernel/config/cluster/*/idle_timeout_ms /sys/kernel/config/cluster/*/keepalive_delay_ms /sys/kernel/config/cluster/*/heartbeat/dead_threshold; do [ -r "$f" ] && echo "$f:$(cat "$f")"; done 2>/dev/null
s ctl_status; command -v ramster-ctl >/dev/null 2>&1 && ramster-ctl status 2>&1
s counters; grep -H . /sys/kernel/debug/ramster/* /sys/kernel/debug/zcache/*pageframes* /sys/kernel/debug/zcache/*zbytes* /sys/kernel/debug/zcache/*zpages* 2>/dev/null
s conf_sha256; sha256sum /etc/ramster.conf 2>/dev/null | cut -d' ' -f1
s tools; command -v ramster-ctl 2>/dev/null
s rclocal; [ -x /etc/rc.local ] && grep -n 'ramster' /etc/rc.local
s shutdown_unit; if command -v systemctl >/dev/null 2>&1; then systemctl is-enabled ramster-swapoff.service 2>/dev/null; else ls /etc/rc0.d/ 2>/dev/null | grep -i ramster; fi
s hostname; hostname
exit 0
`;

/** Each section's text without its final newlines ('' for a missing one). */
export function parseProbe(frames: Frames): Probe {
  return Object.fromEntries(PROBE_SECTIONS.map((k) => [k, frames.body(k).replace(/\n+$/, '')])) as Probe;
}
