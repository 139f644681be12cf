/**
 * NVMe in-band authentication (DH-HMAC-CHAP) of the modern backend: the keys of one
 * (borrower, lender) pair, their text format and the file that holds them on the two nodes.
 *
 * A key is what nvme-cli's `gen-dhchap-key` prints and the kernel's nvme_auth_extract_key()
 * (drivers/nvme/common/auth.c) accepts: `DHHC-1:<hh>:<base64(key || crc32(key) as 4 bytes
 * little-endian)>:`, hh = 00 (the key is used as it is, no transformation), the key 32, 48
 * or 64 random bytes, crc32 the standard (zlib) one. Keys are made on the controller in
 * memory, written only to the two nodes (0600 in a 0700 directory, through stdin, never on a
 * command line) and never printed: the steps register them with the run's redactor and their
 * diffs show only which file holds the keys and a short digest.
 */
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const AUTH_DIR = '/etc/ramster/auth';
/** The hash the lender's host entry asks for (nvmet's default too); no DH group (null): the
 *  challenge-response proves the key both ways, the group would only add forward secrecy to a
 *  session key that NVMe/TCP without TLS does not use. */
export const DHCHAP_HASH = 'hmac(sha256)';

export interface PairKeys {
  /** The borrower's (host's) key: the lender checks it (nvmet `dhchap_key`, connect `dhchap_secret`). */
  host: string;
  /** The lender's (controller's) key: the borrower checks it (`dhchap_ctrl_key`, `dhchap_ctrl_secret`). */
  ctrl: string;
  /** `auth_rotation` the keys were made for. */
  rotation: number;
}

/** The key file of the pair (lender, borrower) of a cluster, the same path on both nodes. */
export const authFile = (cluster: string, lender: number, borrower: number) =>
  `${AUTH_DIR}/${cluster}-node${lender}-to-node${borrower}.keys`;

/** A new DH-HMAC-CHAP secret in the DHHC-1 format (`bytes`: 32, 48 or 64). */
export function generateDhchapKey(bytes: 32 | 48 | 64 = 32, random: (n: number) => Buffer = randomBytes): string {
  const key = random(bytes);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(key) >>> 0);
  return `DHHC-1:00:${Buffer.concat([key, crc]).toString('base64')}:`;
}

/** Why `text` is not a DHHC-1 secret the kernel accepts, or undefined when it is one. */
export function dhchapKeyProblem(text: string): string | undefined {
  const m = /^DHHC-1:(0[0-3]):([A-Za-z0-9+/]+={0,2}):$/.exec(text);
  if (!m) return 'not of the form DHHC-1:<hh>:<base64>:';
  const raw = Buffer.from(m[2], 'base64');
  if (![36, 52, 68].includes(raw.length)) return `decodes to ${raw.length} bytes, not 36, 52 or 68`;
  const key = raw.subarray(0, raw.length - 4);
  if (crc32(key) >>> 0 !== raw.readUInt32LE(raw.length - 4)) return 'its crc32 does not match the key';
  return undefined;
}

export const newPairKeys = (rotation: number): PairKeys => ({
  host: generateDhchapKey(),
  ctrl: generateDhchapKey(),
  rotation,
});

/** The key file's text: `ramster-modern` reads the `host` and `ctrl` lines. */
export function renderPairKeys(k: PairKeys, what: string): string {
  return [
    `# DH-HMAC-CHAP keys of ${what}; written by ramster-provision, root only. Do not copy.`,
    `rotation ${k.rotation}`,
    `host ${k.host}`,
    `ctrl ${k.ctrl}`,
    '',
  ].join('\n');
}

/** The keys in a key file's text, or undefined when it is not one (then a new pair replaces it). */
export function parsePairKeys(text: string): PairKeys | undefined {
  const field = (name: string) => new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1];
  const [host, ctrl, rotation] = [field('host'), field('ctrl'), field('rotation')];
  if (!host || !ctrl || rotation === undefined || !/^\d+$/.test(rotation)) return undefined;
  if (dhchapKeyProblem(host) || dhchapKeyProblem(ctrl)) return undefined;
  return { host, ctrl, rotation: Number(rotation) };
}

/** A short digest of a key as `ramster-modern`'s probe prints it (sha256 of the key text, 12
 *  hex digits): lets a diff say "these keys" or "other keys" without showing any. */
export const keyDigest = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 12);

/** Why this node's kernel cannot do what `auth: dhchap` needs on this side, or undefined. */
export function authRefusal(
  plan: { auth: 'dhchap' | 'none'; lends: unknown[]; borrows: unknown[] },
  probe: { kernel: string; auth: { hostAuth?: boolean; targetAuth?: boolean } },
  host: string,
  side: 'lend' | 'borrow',
): string | undefined {
  if (plan.auth !== 'dhchap') return undefined;
  const needs = side === 'lend' ? plan.lends.length > 0 : plan.borrows.length > 0;
  const has = side === 'lend' ? probe.auth.targetAuth : probe.auth.hostAuth;
  if (!needs || has !== false) return undefined;
  const symbol =
    side === 'lend' ? 'CONFIG_NVME_TARGET_AUTH' : 'CONFIG_NVME_HOST_AUTH, CONFIG_NVME_AUTH before Linux 6.7,';
  return `kernel ${probe.kernel || '(unknown)'} on ${host} has no NVMe in-band authentication (${symbol} is not set; Debian 12's 6.1 has none), and \`auth: dhchap\` (the default) authenticates every (borrower, lender) pair with DH-HMAC-CHAP so that no other machine on the cluster network can claim a borrower's host NQN\nhint: boot a kernel with CONFIG_NVME_HOST_AUTH and CONFIG_NVME_TARGET_AUTH (Debian 13's 6.12: apt install -t trixie linux-image-amd64, or upgrade the node to Debian 13), or set \`auth: none\` in the cluster's \`ramster:\` section to lend without authentication (verify and doctor then warn)`;
}
