/**
 * The DH-HMAC-CHAP key files of the modern backend's pairs (src/modern/auth.ts), on the two
 * nodes of each pair and nowhere else. The lender's step keeps the file it has (same
 * `auth_rotation`) or makes a new pair of keys, writes it, and leaves the keys in the run's
 * in-memory cluster share (StepContext.cluster.share); the borrower's step, after the cluster
 * barrier, copies them from there into its own file. Every key read or made is registered with
 * the run's redactor at once; lines for diffs name files, rotations and modes, never keys.
 */
import { AUTH_DIR, keyDigest, newPairKeys, parsePairKeys, renderPairKeys, type PairKeys } from '../../modern/auth.ts';
import type { ModernPlan } from '../../modern/plan.ts';
import type { KeyDigests } from '../../modern/state.ts';
import { commandFailed, shq } from '../../shell.ts';
import { framed } from '../../frame.ts';
import { run, writeFileAtomic } from '../../transport/fileops.ts';
import { hostPath } from '../../transport/types.ts';
import type { StepContext } from '../types.ts';

export const KEY_MODE = '0600';
const shareKey = (cluster: string, lender: number, borrower: number) =>
  `modern/dhchap/${cluster}/node${lender}-to-node${borrower}`;

export interface PairKeyFiles {
  digests: KeyDigests;
  /** Lines for the step's diff: what the key files should be, and what they are. */
  desired: string[];
  actual: string[];
  /** Writes the files that differ (apply only). */
  write(): Promise<void>;
}

interface KeyFile {
  mode?: string;
  keys?: PairKeys;
  /** The file exists but holds no valid keys. */
  invalid?: boolean;
}

/** Reads the key files in one read-only command. Its output holds keys: it is parsed here and
 *  never becomes part of a message (the command cannot fail on a file: it always exits 0). */
async function readKeyFiles(ctx: StepContext, files: string[]): Promise<Map<string, KeyFile>> {
  const script = [
    ...files.map((f, i) => {
      const p = shq(hostPath(ctx.t, f));
      return `if [ -f ${p} ]; then rp_frame keyfile ${i}; stat -c %a ${p}; cat ${p} 2>/dev/null; fi`;
    }),
    'exit 0',
  ].join('\n');
  const f = framed(script);
  const r = await ctx.t.exec(f.script, { touches: [], timeoutMs: ctx.timeoutMs });
  if (r.code !== 0)
    throw new Error(commandFailed(`reading the DH-HMAC-CHAP key files in ${AUTH_DIR}`, r, { sensitive: true }));
  const out = new Map<string, KeyFile>(files.map((f) => [f, {}]));
  for (const frame of f.read(r.stdout).all('keyfile')) {
    const file = files[Number(frame.key)];
    const [mode, ...body] = frame.body.split('\n');
    if (!file || !/^\d+$/.test(mode)) continue;
    const text = body.join('\n');
    for (const line of text.split('\n')) {
      const k = /^(?:host|ctrl) (\S+)$/.exec(line.trim());
      if (k) ctx.secret?.(k[1]);
    }
    const keys = parsePairKeys(text);
    out.set(file, { mode: `000${mode}`.slice(-4), keys, invalid: !keys });
  }
  return out;
}

const fileLine = (file: string, k: KeyFile | undefined) =>
  k?.keys
    ? `keys ${file}: rotation ${k.keys.rotation}, mode ${k.mode}`
    : k?.invalid
      ? `keys ${file}: no valid keys, mode ${k.mode}`
      : undefined;

async function writeKeys(ctx: StepContext, file: string, keys: PairKeys, what: string): Promise<void> {
  await run(
    ctx.t,
    `install -d -m 0700 -o root -g root ${shq(hostPath(ctx.t, AUTH_DIR))} && chmod 0700 ${shq(hostPath(ctx.t, AUTH_DIR))}`,
    `create ${AUTH_DIR} (0700)`,
    undefined,
    ctx.timeoutMs,
  );
  await writeFileAtomic(ctx.t, file, renderPairKeys(keys, what), { mode: KEY_MODE, owner: 'root', group: 'root' });
}

/** Both sides: the files' lines and digests, and the writes of those to replace. */
function pairFiles(
  ctx: StepContext,
  found: Map<string, KeyFile>,
  wanted: { file: string; keys: PairKeys; what: string }[],
): PairKeyFiles {
  const digests: KeyDigests = new Map();
  const desired: string[] = [];
  const actual: string[] = [];
  const writes: (() => Promise<void>)[] = [];
  for (const w of wanted) {
    ctx.secret?.(w.keys.host);
    ctx.secret?.(w.keys.ctrl);
    digests.set(w.file, { host: keyDigest(w.keys.host), ctrl: keyDigest(w.keys.ctrl) });
    const have = found.get(w.file);
    desired.push(`keys ${w.file}: rotation ${w.keys.rotation}, mode ${KEY_MODE}`);
    const line = fileLine(w.file, have);
    if (line) actual.push(line);
    const same = have?.keys?.host === w.keys.host && have.keys.ctrl === w.keys.ctrl;
    // other keys, another rotation number or a loose mode: the file is written again
    if (!same || line !== desired.at(-1)) writes.push(() => writeKeys(ctx, w.file, w.keys, w.what));
  }
  return {
    digests,
    desired,
    actual,
    async write() {
      for (const w of writes) await w();
    },
  };
}

/** The lender: keeps each pair's keys of the plan's rotation, makes the missing ones, and
 *  shares them for the borrowers' steps of this run. */
export async function lenderKeyFiles(ctx: StepContext, plan: ModernPlan): Promise<PairKeyFiles> {
  const lends = plan.lends.filter((l) => l.authFile);
  if (!lends.length) return pairFiles(ctx, new Map(), []);
  const found = await readKeyFiles(
    ctx,
    lends.map((l) => l.authFile!),
  );
  const wanted = lends.map((l) => {
    const have = found.get(l.authFile!)?.keys;
    const keys = have && have.rotation === plan.authRotation ? have : newPairKeys(plan.authRotation);
    ctx.cluster?.share?.set(shareKey(plan.cluster, plan.node, l.borrower), keys);
    return {
      file: l.authFile!,
      keys,
      what: `node ${l.borrower} (${l.borrowerHost}, borrower) and node ${plan.node} (lender)`,
    };
  });
  return pairFiles(ctx, found, wanted);
}

/** The borrower: each pair's keys as its lender's step of this run shared them; without them
 *  (the lender is not in this run) its own copy of the plan's rotation, else a refusal. */
export async function borrowerKeyFiles(ctx: StepContext, plan: ModernPlan): Promise<PairKeyFiles> {
  const borrows = plan.borrows.filter((b) => b.authFile);
  if (!borrows.length) return pairFiles(ctx, new Map(), []);
  const found = await readKeyFiles(
    ctx,
    borrows.map((b) => b.authFile!),
  );
  const wanted = borrows.map((b) => {
    const shared = ctx.cluster?.share?.get(shareKey(plan.cluster, b.lender, plan.node)) as PairKeys | undefined;
    const own = found.get(b.authFile!)?.keys;
    const keys = shared ?? (own && own.rotation === plan.authRotation ? own : undefined);
    if (!keys) {
      const inRun = ctx.cluster?.members.includes(b.lenderHost);
      throw new Error(
        `the DH-HMAC-CHAP keys of node ${b.lender} (${b.lenderHost}) and node ${plan.node} (${ctx.host}) are made and kept on the lender, ${
          inRun
            ? `and ${b.lenderHost}'s modern_lend step did not share them in this run (did it fail, or was it left out by --tags/--skip-tags?)`
            : `and ${b.lenderHost} is not in this run (--limit)`
        }: ${ctx.host} has ${own ? `keys of rotation ${own.rotation}, not ${plan.authRotation}` : `no copy in ${b.authFile}`}; apply with ${b.lenderHost} included (e.g. --limit ${ctx.host},${b.lenderHost})`,
      );
    }
    return { file: b.authFile!, keys, what: `node ${plan.node} (${ctx.host}, borrower) and node ${b.lender} (lender)` };
  });
  return pairFiles(ctx, found, wanted);
}
