import { probe, run } from '../transport/fileops.ts';
import { isImageTarget } from '../transport/types.ts';
import { convergeFile } from './file.ts';
import { decodeText, splitLines } from './lines.ts';
import { defineStep, noChange, type Change, type StepContext } from './types.ts';
import { shq } from '../shell.ts';

export type MountArgs = {
  path: string;
  src?: string;
  fstype?: string;
  opts?: string;
  dump?: number;
  passno?: number;
  state?: 'mounted' | 'present' | 'unmounted' | 'absent';
};

const FSTAB = '/etc/fstab';
/** One fstab field: a blank or newline would add fields or a whole line of its own. */
const FIELD = '^[^\\s#]+$';

export const mountStep = defineStep<MountArgs>()({
  name: 'mount',
  description:
    'An /etc/fstab entry and whether it is mounted. Other fstab lines are kept byte for byte. For a folder target only fstab is managed.',
  argsSchema: {
    type: 'object',
    required: ['path'],
    additionalProperties: false,
    properties: {
      path: { type: 'string', pattern: '^/', description: 'Mount point (absolute path).' },
      src: {
        type: 'string',
        description: 'Device, UUID=..., LABEL=..., or remote path. Required for mounted and present.',
      },
      fstype: {
        type: 'string',
        pattern: FIELD,
        description: 'File system type, e.g. ext4, xfs, tmpfs, configfs. Required for mounted and present.',
      },
      opts: {
        type: 'string',
        pattern: FIELD,
        description: 'Mount options, comma separated, no blanks (default "defaults").',
      },
      dump: { type: 'integer', minimum: 0, description: 'fstab dump field (default 0).' },
      passno: { type: 'integer', minimum: 0, description: 'fstab fsck pass number (default 0).' },
      state: {
        enum: ['mounted', 'present', 'unmounted', 'absent'],
        description:
          'mounted (default): fstab entry and mounted now; present: fstab entry only; unmounted: not mounted, fstab untouched; absent: no fstab entry and not mounted.',
      },
    },
  },
  reads: (args) => (args.state === 'unmounted' ? [] : [FSTAB]),
  async checkApply(args, ctx) {
    const state = args.state ?? 'mounted';
    const wantEntry = state === 'mounted' || state === 'present';
    if (wantEntry && (!args.src || !args.fstype))
      throw new Error(`mount ${args.path}: src and fstype are required for state ${state}`);
    for (const k of ['fstype', 'opts'] as const) {
      if (args[k] !== undefined && !new RegExp(FIELD).test(args[k]!))
        throw new Error(`mount ${args.path}: ${k} must be one fstab field, without blanks, newlines or '#'`);
    }
    const path = args.path.length > 1 ? args.path.replace(/\/+$/, '') : args.path;
    const entry = fstabEntry(args, path);

    let fstab: Change = noChange(`${FSTAB} unchanged`);
    if (state !== 'unmounted') {
      fstab = await convergeFile(ctx, { path: FSTAB }, (current) => {
        if (current === undefined && !wantEntry) return null;
        const text = current === undefined ? '' : decodeText(FSTAB, current);
        return editFstab(text, path, wantEntry ? entry : undefined);
      });
    }

    const parts = fstab.action === 'none' ? [] : [fstab.summary];
    const { mountAction, skipped } = await mountActionFor(ctx, state, path, fstab);
    if (mountAction) {
      parts.push(`${mountAction} ${path}`);
      if (ctx.apply) await runMountAction(ctx, mountAction, path);
    }
    if (!parts.length) {
      const none = noChange(`${path} ${state}${skipped ? ` in ${FSTAB} (${skipped})` : ''}`);
      if (skipped) none.skipped = skipped;
      return none;
    }
    return {
      action: fstab.action !== 'none' ? fstab.action : 'update',
      summary: parts.join('; ') + (skipped ? ` (${skipped})` : ''),
      diff: fstab.diff,
    };
  },
});

/** The fstab line of the mount, field by field. */
function fstabEntry(args: MountArgs, path: string): string[] {
  return [
    escapeField(args.src ?? ''),
    escapeField(path),
    args.fstype ?? '',
    args.opts ?? 'defaults',
    String(args.dump ?? 0),
    String(args.passno ?? 0),
  ];
}

/** What to do to the mount itself ('' for nothing), or why it is not managed (an image). */
async function mountActionFor(
  ctx: StepContext,
  state: string,
  path: string,
  fstab: Change,
): Promise<{ mountAction: string; skipped?: string }> {
  let mountAction = '';
  let skipped: string | undefined;
  if (state !== 'present') {
    if (isImageTarget(ctx.t)) {
      skipped = `mount state not managed: ${ctx.t.target} is an image, not a live host`;
    } else {
      const mounted = await isMounted(ctx, path);
      if (state === 'mounted') mountAction = !mounted ? 'mount' : fstab.action !== 'none' ? 'remount' : '';
      else if (mounted) mountAction = 'unmount';
    }
  }
  return { mountAction, skipped };
}

async function runMountAction(ctx: StepContext, mountAction: string, path: string): Promise<void> {
  const p = shq(path);
  const cmd =
    mountAction === 'mount'
      ? `mkdir -p ${p} && mount ${p}`
      : mountAction === 'remount'
        ? `mount -o remount ${p}`
        : `umount ${p}`;
  await run(ctx.t, cmd, `${mountAction} ${path}`, undefined, ctx.timeoutMs);
}

/** fstab fields escape blanks and backslashes as octal (\040 for a space). */
function escapeField(s: string): string {
  return s.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

function unescapeField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Replaces the first entry for `mountPoint` in place (dropping later duplicates, which
 *  would shadow it), appends when there is none, or removes them all (`entry` undefined).
 *  A line already equal field by field is left exactly as written. */
export function editFstab(text: string, mountPoint: string, entry: string[] | undefined): string {
  const lines = splitLines(text);
  const fieldsOf = (l: string) => (l.trim().startsWith('#') ? [] : l.trim().split(/\s+/));
  const isOurs = (l: string) => {
    const f = fieldsOf(l);
    return f.length >= 2 && unescapeField(f[1]).replace(/(.)\/+$/, '$1') === mountPoint;
  };
  const line = entry ? `${entry.join(' ')}\n` : undefined;
  const out: string[] = [];
  let placed = false;
  for (const l of lines) {
    if (!isOurs(l)) out.push(l);
    else if (line && !placed) {
      const f = fieldsOf(l);
      const same = [0, 1, 2, 3, 4, 5].every((i) => (f[i] ?? (i >= 4 ? '0' : '')) === entry![i]);
      out.push(same ? l : line);
      placed = true;
    }
  }
  if (line && !placed) {
    if (out.length && !out[out.length - 1].endsWith('\n')) out[out.length - 1] += '\n';
    out.push(line);
  }
  return out.join('');
}

async function isMounted(ctx: StepContext, path: string): Promise<boolean> {
  const mounts = await probe(ctx.t, 'cat /proc/self/mounts', 'read /proc/self/mounts', ctx.timeoutMs);
  return mounts.split('\n').some((l) => {
    const f = l.split(' ');
    return f.length > 1 && unescapeField(f[1]) === path;
  });
}
