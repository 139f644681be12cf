/**
 * `verify`, `status` and `doctor` for the modern backend, in the words used for legacy:
 * pages this node keeps remotely, foreign pages it holds for others, zswap pages, and the
 * connection state of each (borrower, lender) pair.
 */
import { CRYPT_DEVICE, MD_DEVICE, NQN_PREFIX, SWAP_LABEL, type ModernPlan } from './plan.ts';
import type { ModernProbe } from './probe.ts';
import { actualBorrowLines, actualLendLines, desiredBorrowLines, desiredLendLines, ourCrypt } from './state.ts';

/** One check of a node, in the shape legacy verify's checks have (`Check` in ramster/verify.ts),
 *  declared here so the two domains stay apart; the CLI prints both alike. */
export interface Check {
  id: string;
  title: string;
  /** warn: works, but not as safely as it could (e.g. `auth: none`): never fails verify. */
  status: 'pass' | 'fail' | 'warn';
  /** What was seen on the host. */
  evidence: string;
  /** How to fix a failure. */
  fix?: string;
}

const PAGE = 4096;
const pass = (id: string, title: string, evidence: string): Check => ({ id, title, status: 'pass', evidence });
const fail = (id: string, title: string, evidence: string, fix: string): Check => ({
  id,
  title,
  status: 'fail',
  evidence,
  fix,
});
const warn = (id: string, title: string, evidence: string, fix: string): Check => ({
  id,
  title,
  status: 'warn',
  evidence,
  fix,
});
const keyed = (d: string | undefined) => d !== undefined && d !== 'none' && d !== 'absent';
const keyState = (d: string | undefined) => (d === undefined ? 'no entry' : keyed(d) ? 'set' : d);
const UNAUTHENTICATED =
  "auth: none: any machine on the cluster network that claims the borrower's host NQN can read and write its swap";
const AUTH_FIX =
  'a kernel with NVMe in-band authentication on both nodes (Debian 13: CONFIG_NVME_HOST_AUTH, CONFIG_NVME_TARGET_AUTH), then remove `auth: none` from the inventory and apply';

/** The lender's side of each pair's authentication: the borrower's host entry holds both keys. */
function lendAuthChecks(plan: ModernPlan, p: ModernProbe): Check[] {
  return plan.lends.map((l) => {
    const title = `${l.borrowerHost} (node ${l.borrower}) must authenticate with DH-HMAC-CHAP both ways`;
    if (!l.authFile)
      return warn(
        `auth-lend-${l.borrower}`,
        `${l.borrowerHost} (node ${l.borrower}) connects without authentication`,
        UNAUTHENTICATED,
        AUTH_FIX,
      );
    const k = p.auth.hostKeys.get(l.hostNqn);
    return keyed(k?.key) && keyed(k?.ctrlKey)
      ? pass(
          `auth-lend-${l.borrower}`,
          title,
          `host entry ${l.hostNqn}: dhchap_key and dhchap_ctrl_key set (keys of ${l.authFile})`,
        )
      : fail(
          `auth-lend-${l.borrower}`,
          title,
          `host entry ${l.hostNqn}: dhchap_key ${keyState(k?.key)}, dhchap_ctrl_key ${keyState(k?.ctrlKey)}`,
          'ramster-provision apply --tags lend (or systemctl restart ramster-lend.service)',
        );
  });
}

/** The borrower's side: its controller to each lender authenticated with both keys. */
function borrowAuthCheck(b: ModernPlan['borrows'][number], p: ModernProbe): Check {
  const id = `auth-${b.lender}`;
  if (!b.authFile)
    return warn(id, `${b.lenderHost} (node ${b.lender}): connection not authenticated`, UNAUTHENTICATED, AUTH_FIX);
  const title = `${b.lenderHost} (node ${b.lender}) authenticated with DH-HMAC-CHAP both ways`;
  const c = p.controllers.find((x) => x.subsystem === b.subsystem);
  const k = c && p.auth.ctrlKeys.get(c.name);
  return c && keyed(k?.secret) && keyed(k?.ctrlSecret)
    ? pass(id, title, `${c.name}: dhchap_secret and dhchap_ctrl_secret set (keys of ${b.authFile})`)
    : fail(
        id,
        title,
        c
          ? `${c.name}: dhchap_secret ${keyState(k?.secret)}, dhchap_ctrl_secret ${keyState(k?.ctrlSecret)}`
          : 'no controller',
        'ramster-provision apply (a controller connected without keys needs `ramster-modern borrow-down` on this node first)',
      );
}

const CLEAR_FIX =
  'remove `encryption: none` from the inventory (dm-crypt is the default) and apply: the swap comes home (swapoff, refused when the node has too little room) and goes back encrypted';

/** Whether this connection's pages leave encrypted: swap is on our dm-crypt mapping, and the
 *  device under it is the connection's namespace or the mirror that holds it. */
export function encryptedPath(
  b: ModernPlan['borrows'][number],
  p: ModernProbe,
): { encrypted: boolean; evidence: string } {
  const crypt = ourCrypt(p);
  const swapped = crypt && p.swaps.some((s) => s.device === `/dev/${crypt.dm}` && s.label === SWAP_LABEL);
  const ns = p.blockDevices.find((d) => d.subsystem === b.subsystem && !/c\d+n/.test(d.name))?.name;
  if (crypt?.target !== 'crypt' || !swapped)
    return { encrypted: false, evidence: `swap is not on ${CRYPT_DEVICE}${crypt ? ` (${crypt.target})` : ''}` };
  const under = crypt.slaves[0] ?? '';
  const md = p.mdLinks.get(MD_DEVICE)?.replace('/dev/', '');
  const mdLine = p.mdstat.split('\n').find((l) => md && l.startsWith(`${md} :`)) ?? '';
  const holds = !!ns && (under === ns || (under === md && new RegExp(` ${ns}\\[`).test(mdLine)));
  return {
    encrypted: holds,
    evidence: `swap on ${CRYPT_DEVICE} (${crypt.cipher}) over ${under || 'nothing'}${holds ? '' : `, not over ${ns ?? 'this connection'}`}`,
  };
}

/** Each connection's pages are ciphertext before they leave (encryption: dm-crypt). */
function encryptionCheck(plan: ModernPlan, b: ModernPlan['borrows'][number], p: ModernProbe): Check {
  const id = `encryption-${b.lender}`;
  if (plan.encryption === 'none')
    return warn(
      id,
      `${b.lenderHost} (node ${b.lender}): pages leave unencrypted`,
      `encryption: none: swap pages cross the cluster network and sit in ${b.lenderHost}'s RAM in clear`,
      CLEAR_FIX,
    );
  const e = encryptedPath(b, p);
  const title = `pages to ${b.lenderHost} (node ${b.lender}) leave encrypted (dm-crypt, key made at boot)`;
  return e.encrypted
    ? pass(id, title, e.evidence)
    : fail(
        id,
        title,
        e.evidence,
        'ramster-provision apply --tags borrow (or systemctl restart ramster-borrow.service)',
      );
}

const missing = (want: string[], have: string[]) => want.filter((l) => !have.includes(l));

export function verifyModernNode(plan: ModernPlan, p: ModernProbe): Check[] {
  const checks = [...lenderChecks(plan, p), ...borrowerChecks(plan, p)];
  if (!plan.lends.length && !plan.borrows.length)
    checks.push(pass('role', 'node neither lends nor borrows in this topology', 'nothing to set up'));
  return checks;
}

function unitCheck(p: ModernProbe, name: string, role: string): Check {
  const u = p.units[name] ?? { enabled: 'not-found', active: 'inactive' };
  return u.enabled === 'enabled' && u.active === 'active'
    ? pass(
        `${role}-unit`,
        `${name} enabled and active (recreates the ${role} side at boot, tears it down in order at shutdown)`,
        `${u.enabled}, ${u.active}`,
      )
    : fail(
        `${role}-unit`,
        `${name} enabled and active`,
        `${u.enabled}, ${u.active}`,
        `ramster-provision apply (systemctl enable --now ${name}); journalctl -u ${name} says why it failed`,
      );
}

/** The lending side: its unit, the exports, each to its borrower only. */
function lenderChecks(plan: ModernPlan, p: ModernProbe): Check[] {
  if (!plan.lends.length) return [];
  const checks = [unitCheck(p, 'ramster-lend.service', 'lend')];
  const gone = missing(desiredLendLines(plan), actualLendLines(p, plan));
  const borrowers = plan.lends.map((l) => l.borrowerHost).join(', ');
  checks.push(
    gone.length
      ? fail(
          'exports',
          `namespaces exported to ${borrowers}`,
          `missing: ${gone.join('; ')}`,
          'ramster-provision apply --tags lend (or systemctl restart ramster-lend.service); dmesg | grep nvmet',
        )
      : pass(
          'exports',
          `namespaces exported to ${borrowers} on ${plan.address}:${plan.port}, each to its borrower only`,
          `${plan.lends.length} subsystem(s), attr_allow_any_host 0`,
        ),
  );
  const open = p.subsystems.filter((s) => s.name.startsWith(NQN_PREFIX) && s.allowAnyHost !== '0');
  if (open.length)
    checks.push(
      fail(
        'private',
        'lent RAM reachable by its borrower only',
        `attr_allow_any_host is not 0 on ${open.map((s) => s.name).join(', ')}`,
        'ramster-provision apply --tags lend',
      ),
    );
  checks.push(...lendAuthChecks(plan, p));
  return checks;
}

/** The borrowing side: its unit, a live connection per lender, the swap, zswap, the mirror. */
function borrowerChecks(plan: ModernPlan, p: ModernProbe): Check[] {
  if (!plan.borrows.length) return [];
  const checks = [unitCheck(p, 'ramster-borrow.service', 'borrow')];
  for (const b of plan.borrows) {
    const c = p.controllers.find((x) => x.subsystem === b.subsystem);
    const title = `connected to ${b.lenderHost} (node ${b.lender}, ${b.address}:${b.port})`;
    checks.push(
      c?.state === 'live'
        ? pass(`connection-${b.lender}`, title, `${c.name} ${c.state}`)
        : fail(
            `connection-${b.lender}`,
            title,
            c ? `${c.name} ${c.state}` : 'no controller',
            connectionFix(b.lenderHost, b.address, b.port, c?.state),
          ),
      borrowAuthCheck(b, p),
      encryptionCheck(plan, b, p),
    );
  }
  checks.push(swapCheck(plan, p), zswapCheck(p));
  if (plan.mirrored) checks.push(mirrorCheck(p));
  return checks;
}

function swapCheck(plan: ModernPlan, p: ModernProbe): Check {
  const swapLine = desiredBorrowLines(plan).at(-1)!;
  const swap = p.swaps.find((s) => s.label === SWAP_LABEL);
  const top = Math.max(...p.swaps.map((s) => s.priority));
  return actualBorrowLines(p, plan).includes(swapLine) && swap && swap.priority >= top
    ? pass(
        'remote-swap',
        'swap on remote RAM, before any local swap',
        `${swap.device} priority ${swap.priority}, ${Math.round(swap.usedKb / 1024)} of ${Math.round(swap.sizeKb / 1024)} MiB used`,
      )
    : fail(
        'remote-swap',
        'swap on remote RAM, before any local swap',
        swap ? `${swap.device} priority ${swap.priority} (highest ${top})` : `no swap labelled ${SWAP_LABEL}`,
        'ramster-provision apply --tags borrow (or systemctl restart ramster-borrow.service)',
      );
}

function zswapCheck(p: ModernProbe): Check {
  return p.zswap.enabled === 'Y'
    ? pass(
        'zswap',
        'zswap compresses pages before they leave the node',
        `compressor ${p.zswap.compressor}, max_pool_percent ${p.zswap.max_pool_percent}`,
      )
    : fail(
        'zswap',
        'zswap compresses pages before they leave the node',
        p.zswap.enabled ? `enabled ${p.zswap.enabled}` : 'no zswap in this kernel',
        'ramster-provision apply --tags borrow',
      );
}

function mirrorCheck(p: ModernProbe): Check {
  const m = mirrorHealth(p);
  return m.inSync || m.rebuilding
    ? pass(
        'mirror',
        `every page on two lenders (${MD_DEVICE})`,
        m.rebuilding ? `${m.evidence}: one full copy, the second being rebuilt` : m.evidence,
      )
    : fail(
        'mirror',
        `every page on two lenders (${MD_DEVICE})`,
        m.evidence,
        `a lender is gone: pages are safe on the other; once it is back, mdadm ${MD_DEVICE} --re-add (or reboot this node) restores the second copy`,
      );
}

/** In sync, or rebuilding the second copy (a lender came back), or degraded. */
export function mirrorHealth(p: ModernProbe): { inSync: boolean; rebuilding?: boolean; evidence: string } {
  const node = p.mdLinks.get(MD_DEVICE)?.replace('/dev/', '');
  if (!node) return { inSync: false, evidence: `${MD_DEVICE} does not exist` };
  const block = p.mdstat.split(/\n(?=\S)/).find((b) => b.startsWith(`${node} :`)) ?? '';
  const state = block.match(/\[(\d+)\/(\d+)\] \[([U_]+)\]/);
  if (!state)
    return { inSync: false, evidence: `${node} not active: ${block.split('\n')[0] || 'absent from /proc/mdstat'}` };
  const recovery = block.match(/(recovery|resync) = *([\d.]+%)/);
  return {
    inSync: state[1] === state[2] && !recovery,
    rebuilding: !!recovery,
    evidence: `${node} ${state[0]}${recovery ? `, ${recovery[1]} ${recovery[2]}` : ''}`,
  };
}

function connectionFix(lender: string, address: string, port: number, state?: string): string {
  if (state === 'connecting' || state === 'resetting')
    return `the link to ${lender} was lost; the kernel reconnects every 2 s and swap I/O waits meanwhile (ctrl_loss_tmo=-1): check that ${lender} is up, its ramster-lend.service is active, and ${address}:${port} is reachable (ping ${address})`;
  return `ramster-provision apply --tags borrow; check ${lender}'s ramster-lend.service and that ${address}:${port} is reachable`;
}

/** Kernel I/O counters of a namespace: on its path device (nvmeXcYnZ) under native multipath. */
function ioOf(p: ModernProbe, subsystem: string): { readPages: number; writtenPages: number } {
  const heads = p.blockDevices.filter((b) => b.subsystem === subsystem && !/c\d+n/.test(b.name)).map((b) => b.name);
  const paths = p.blockDevices.filter((b) => heads.some((h) => b.name !== h && b.name.replace(/c\d+n/, 'n') === h));
  const devs = paths.length ? paths : p.blockDevices.filter((b) => heads.includes(b.name));
  const sectors = (i: number) => devs.reduce((s, d) => s + (d.stat[i] ?? 0), 0);
  return { readPages: Math.round((sectors(2) * 512) / PAGE), writtenPages: Math.round((sectors(6) * 512) / PAGE) };
}

export interface ModernStatus {
  backend: 'modern';
  role: string;
  /** Pages this node keeps on other nodes (its remote swap in use). */
  remote_pages: number;
  /** Pages of other nodes this node holds in RAM (allocated size of the lend files). */
  foreign_pages: number;
  foreign_by_node: Record<string, number>;
  zswap_stored_pages: number;
  zswap_written_back_pages: number;
  remote_pages_read: number;
  remote_pages_written: number;
  connections: Record<string, string>;
  /** Per lender: how the connection authenticated (`dhchap` both ways, `dhchap one way`, or `none`). */
  auth: Record<string, string>;
  /** Per lender: whether its pages leave encrypted (`dm-crypt`) or not (`none`). */
  encryption: Record<string, string>;
}

export function modernStatus(plan: ModernPlan, p: ModernProbe): ModernStatus {
  const swap = p.swaps.find((s) => s.label === SWAP_LABEL);
  const foreign: Record<string, number> = {};
  for (const l of plan.lends)
    foreign[l.borrowerHost] = Math.round((p.files.find((f) => f.path === l.file)?.allocated ?? 0) / PAGE);
  const io = plan.borrows.map((b) => ioOf(p, b.subsystem));
  const connections: Record<string, string> = {};
  const auth: Record<string, string> = {};
  const encryption: Record<string, string> = {};
  for (const b of plan.borrows) {
    const c = p.controllers.find((x) => x.subsystem === b.subsystem);
    connections[b.lenderHost] = c?.state ?? 'not connected';
    encryption[b.lenderHost] = !c ? 'not connected' : encryptedPath(b, p).encrypted ? 'dm-crypt' : 'none';
    const k = c && p.auth.ctrlKeys.get(c.name);
    auth[b.lenderHost] = !c
      ? 'not connected'
      : keyed(k?.secret) && keyed(k?.ctrlSecret)
        ? 'dhchap'
        : keyed(k?.secret)
          ? 'dhchap one way'
          : 'none';
  }
  return {
    backend: 'modern',
    role:
      [
        plan.borrows.length ? `borrows from ${plan.borrows.map((b) => b.lenderHost).join('+')}` : '',
        plan.lends.length ? `lends to ${plan.lends.map((l) => l.borrowerHost).join('+')}` : '',
      ]
        .filter(Boolean)
        .join(', ') || 'idle',
    remote_pages: swap ? Math.round((swap.usedKb * 1024) / PAGE) : 0,
    foreign_pages: Object.values(foreign).reduce((a, b) => a + b, 0),
    foreign_by_node: foreign,
    zswap_stored_pages: p.zswapStats.stored_pages ?? 0,
    zswap_written_back_pages: p.zswapStats.written_back_pages ?? 0,
    remote_pages_read: io.reduce((s, x) => s + x.readPages, 0),
    remote_pages_written: io.reduce((s, x) => s + x.writtenPages, 0),
    connections,
    auth,
    encryption,
  };
}

export interface ModernFinding {
  class: 'harmless' | 'warning' | 'config-mismatch' | 'unrecoverable';
  line: string;
  what: string;
  fix?: string;
}

const DMESG_RULES: { re: RegExp; class: ModernFinding['class']; what: string; fix?: string }[] = [
  {
    re: /nvme nvme\d+: failed to connect socket|nvme nvme\d+: Failed reconnect attempt/,
    class: 'config-mismatch',
    what: 'this node cannot reach a lender: swap I/O to it waits while the kernel reconnects',
    fix: 'check the lender is up, its ramster-lend.service active, and the cluster network (ping its cluster address)',
  },
  {
    re: /nvme nvme\d+: (starting error recovery|Reconnecting in)/,
    class: 'harmless',
    what: 'a connection to a lender dropped and is being re-established; swap I/O waits, nothing is lost',
  },
  // (not "Removing ctrl: NQN …", which is an orderly disconnect, e.g. at shutdown)
  {
    re: /nvme nvme\d+: Removing controller\.\.\./,
    class: 'unrecoverable',
    what: 'a lender stayed away longer than ctrl_loss_tmo and its controller was removed: pages on it are gone (with replicas: 2 the mirror still holds them)',
    fix: 'bring the lender back, then ramster-provision apply',
  },
  {
    re: /md\/raid1:\S+: Disk failure on (\S+)/,
    class: 'config-mismatch',
    what: 'the RAID1 mirror lost one lender: every page is still on the other one, but there is no second copy now',
    fix: `once the lender is back: ramster-provision apply, or mdadm ${MD_DEVICE} --re-add`,
  },
  {
    re: /nvmet: adding nsid|nvmet_tcp: enabling port|nvmet: creating nvm controller/,
    class: 'harmless',
    what: 'lending side set up or a borrower connected',
  },
  {
    re: /nvmet: failed to open file|nvmet_file: failed to open/,
    class: 'unrecoverable',
    what: 'nvmet could not open the tmpfs file behind a namespace (tmpfs refuses O_DIRECT: buffered_io must be 1 before enable)',
    fix: 'ramster-provision apply --tags lend',
  },
  {
    re: /Read-error on swap-device|Write-error on swap-device/,
    class: 'unrecoverable',
    what: 'swap I/O failed: processes whose pages were on that device were killed',
    fix: 'check the connection to the lender; with replicas: 2 one lender may fail without losing pages',
  },
  {
    re: /zswap: (loaded using pool|compressor .* not available)/,
    class: 'harmless',
    what: 'zswap pool set up (or fell back to another compressor)',
  },
];

export function classifyModernDmesg(lines: string[]): ModernFinding[] {
  const out: ModernFinding[] = [];
  for (const line of lines) {
    const rule = DMESG_RULES.find((r) => r.re.test(line));
    if (rule) out.push({ class: rule.class, line, what: rule.what, fix: rule.fix });
  }
  return out;
}

/** What `doctor` says about a node: a check that fails (a connection not live, a unit down)
 *  explains itself first, then the kernel's nvme/nvmet/md/zswap lines, classified. */
export function modernFindings(plan: ModernPlan, p: ModernProbe): ModernFinding[] {
  const failing = verifyModernNode(plan, p).filter((c) => c.status !== 'pass');
  return [
    ...failing.map((c) => ({
      class: c.status === 'warn' ? ('warning' as const) : ('config-mismatch' as const),
      line: `${c.title}: ${c.evidence}`,
      what: c.title,
      fix: c.fix,
    })),
    ...classifyModernDmesg(p.dmesg),
  ];
}
