import { probeFrames, run } from '../../transport/fileops.ts';
import { bodyLines } from '../../frame.ts';
import { hostPath } from '../../transport/types.ts';
import { convergeFile } from '../file.ts';
import { bare, decodeText, splitLines } from '../lines.ts';
import { defineStep, noChange, type Change, type StepContext } from '../types.ts';
import { isImageTarget } from './cluster.ts';
import { shq } from '../../shell.ts';

export type GrubCmdlineArgs = {
  /** Strings, or lists of strings (a `{{ variable }}` holding a list is spliced in). */
  tokens?: (string | string[])[];
  absent?: (string | string[])[];
};

export const DEFAULT_GRUB = '/etc/default/grub';
export const LEGACY_GRUB_CONF = '/boot/grub/grub.conf';

const TOKEN = /^[^\s"'$`\\#;&|<>()]+$/;
const keyOf = (t: string) => (t.includes('=') ? t.slice(0, t.indexOf('=')) : t);

/**
 * The kernel command line with `ensure` present and `absent` gone, order kept: existing tokens
 * stay where they are, new ones are appended in the order given. `key=value` tokens replace
 * an existing `key=...` in place; a bare name in `absent` removes `name` and every `name=...`.
 * Duplicates of managed tokens are dropped (the first stays); other tokens are not touched.
 */
export function editTokens(current: string[], ensure: string[], absent: string[]): string[] {
  const matchesAbsent = (t: string) =>
    absent.some((a) => (a.includes('=') ? t === a : t === a || (t.includes('=') && keyOf(t) === a)));
  let out = current.filter((t) => !matchesAbsent(t));
  for (const e of ensure) {
    const same = (t: string) => (e.includes('=') ? t.includes('=') && keyOf(t) === keyOf(e) : t === e);
    const first = out.findIndex(same);
    if (first < 0) out.push(e);
    else out = out.flatMap((t, i) => (i === first ? [e] : same(t) ? [] : [t]));
  }
  return out;
}

/** Tokens missing from `have`, or that must not be there: what makes a kernel line stale. */
export function staleTokens(have: string[], ensure: string[], absent: string[]): string[] {
  const want = editTokens(have, ensure, absent);
  return [...ensure.filter((e) => !have.includes(e)), ...have.filter((t) => !want.includes(t))];
}

function tokenList(name: string, v: GrubCmdlineArgs['tokens']): string[] {
  const list = (v ?? []).flat();
  for (const t of list) {
    if (typeof t !== 'string' || !TOKEN.test(t))
      throw new Error(
        `grub_cmdline: ${name} entry ${JSON.stringify(t)} is not a single kernel parameter (no blanks, quotes or shell characters)`,
      );
  }
  return list;
}

const ASSIGN = /^(\s*(?:export\s+)?GRUB_CMDLINE_LINUX=)(.*)$/;

/** /etc/default/grub with the last GRUB_CMDLINE_LINUX assignment edited; every other byte kept.
 *  Returns the text and the tokens before and after. */
export function editDefaultGrub(
  text: string,
  ensure: string[],
  absent: string[],
): { text: string; before: string[]; after: string[] } {
  const lines = splitLines(text);
  const at = lines
    .map((l, i) => (ASSIGN.test(bare(l)) ? i : -1))
    .filter((i) => i >= 0)
    .pop();
  if (at === undefined) {
    const after = editTokens([], ensure, absent);
    if (!after.length) return { text, before: [], after };
    const sep = text === '' || text.endsWith('\n') ? '' : '\n';
    return { text: `${text}${sep}GRUB_CMDLINE_LINUX="${after.join(' ')}"\n`, before: [], after };
  }
  const line = lines[at];
  const eol = line.slice(bare(line).length);
  const [, head, value] = ASSIGN.exec(bare(line))!;
  const q = /^"((?:[^"\\]|\\.)*)"(.*)$/.exec(value) ?? /^'([^']*)'(.*)$/.exec(value);
  const quote = q ? value[0] : '"';
  const inner = q ? q[1] : /^\S*/.exec(value)![0];
  const rest = q ? q[2] : value.slice(inner.length);
  const before = inner.split(/\s+/).filter(Boolean);
  const after = editTokens(before, ensure, absent);
  if (after.join(' ') === before.join(' ')) return { text, before, after };
  lines[at] = `${head}${quote}${after.join(' ')}${quote}${rest}${eol}`;
  return { text: lines.join(''), before, after };
}

const KERNEL_LINE = /^(\s*kernel\s+\S+)(.*)$/;

/** EL6 grub.conf with every `kernel` line edited the way `grubby --update-kernel=ALL` does. */
export function editLegacyGrubConf(text: string, ensure: string[], absent: string[]): string {
  return splitLines(text)
    .map((line) => {
      const m = KERNEL_LINE.exec(bare(line));
      if (!m) return line;
      const before = m[2].trim().split(/\s+/).filter(Boolean);
      const after = editTokens(before, ensure, absent);
      return after.join(' ') === before.join(' ') ? line : `${m[1]} ${after.join(' ')}${line.slice(bare(line).length)}`;
    })
    .join('');
}

const LINUX_SECTION = /^### BEGIN \/etc\/grub\.d\/10_linux ###$([\s\S]*?)^### END \/etc\/grub\.d\/10_linux ###$/m;

/** Kernel lines of a generated grub.cfg (`linux /vmlinuz-... args`) made from GRUB_CMDLINE_LINUX:
 *  those of the 10_linux section when the file has one (entries os-prober found for other
 *  systems keep their own parameters). */
export function grubCfgKernelArgs(cfgText: string): string[][] {
  return (LINUX_SECTION.exec(cfgText)?.[1] ?? cfgText)
    .split('\n')
    .map((l) => /^\s*linux(?:16|efi)?\s+(\S*vmlinu[xz]\S*)\s*(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => m[2].split(/\s+/).filter(Boolean));
}

// Red Hat: grub.cfg lives in the EFI system partition on EFI boots unless that file is only the
// stub that loads /boot/grub2/grub.cfg (EL9).
const CFG_SCRIPT = {
  debian: 'cfg=/boot/grub/grub.cfg',
  redhat: `cfg=
if [ -d /sys/firmware/efi ]; then for f in /boot/efi/EFI/*/grub.cfg; do if [ -f "$f" ] && ! grep -qs '^[[:space:]]*configfile' "$f"; then cfg=$f; fi; done; fi
cfg=\${cfg:-/boot/grub2/grub.cfg}`,
};

const REGENERATE = {
  debian: 'if command -v update-grub >/dev/null 2>&1; then update-grub; else grub-mkconfig -o "$cfg"; fi',
  redhat: 'grub2-mkconfig -o "$cfg"',
};

export const grubCmdlineStep = defineStep<GrubCmdlineArgs>()({
  name: 'grub_cmdline',
  description:
    'Kernel boot parameters as a token set: ensured present / absent in GRUB_CMDLINE_LINUX of /etc/default/grub (order kept, no duplicates, every other byte of the file kept), then grub.cfg regenerated (update-grub, grub2-mkconfig); on EL6 legacy GRUB through grubby --update-kernel=ALL. Takes effect after a reboot.',
  argsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      tokens: {
        type: 'array',
        items: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
        description:
          'Parameters that must be on the command line, e.g. [zcache, ramster]; key=value replaces an existing key=...; a nested list (from a variable) is spliced in.',
      },
      absent: {
        type: 'array',
        items: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
        description: 'Parameters to remove; a bare name also removes name=... .',
      },
    },
  },
  async checkApply(args, ctx) {
    const ensure = tokenList('tokens', args.tokens);
    const absent = tokenList('absent', args.absent);
    if (!ensure.length && !absent.length) throw new Error('grub_cmdline: give tokens and/or absent');
    const clash = ensure.filter((e) => absent.includes(e) || absent.includes(keyOf(e)));
    if (clash.length) throw new Error(`grub_cmdline: ${clash.join(', ')} is both in tokens and absent`);
    const what = [ensure.length ? `has ${ensure.join(' ')}` : '', absent.length ? `lacks ${absent.join(' ')}` : '']
      .filter(Boolean)
      .join(' and ');

    if (ctx.facts.boot_loader === 'grub-legacy') return legacy(ctx, ensure, absent, what);
    if (ctx.facts.boot_loader !== 'grub2')
      throw new Error(
        `${ctx.host} has no GRUB the step knows (boot loader: ${ctx.facts.boot_loader}); install GRUB 2 or use EL6's legacy GRUB`,
      );
    const family = ctx.facts.os_family === 'redhat' ? 'redhat' : 'debian';

    const { file, delta } = await editDefaultGrubFile(ctx, ensure, absent);

    if (isImageTarget(ctx.t)) {
      if (file.action === 'none') return noChange(`kernel command line ${what} (${DEFAULT_GRUB})`);
      return {
        ...file,
        summary: `${DEFAULT_GRUB}: GRUB_CMDLINE_LINUX ${delta} (grub.cfg not regenerated: ${ctx.t.target} is an image; run ${family === 'debian' ? 'update-grub' : 'grub2-mkconfig'} in the booted image or when installing its boot loader)`,
        rebootRequired: true,
      };
    }

    // grub.cfg may be stale even when the file is right (an earlier run stopped in between).
    const { cfg, missing, stale } = await readGrubCfg(ctx, family, ensure, absent);
    if (file.action === 'none' && !missing && !stale.length)
      return noChange(`kernel command line ${what} (${DEFAULT_GRUB} and ${cfg})`);

    const regen = family === 'debian' ? 'update-grub' : `grub2-mkconfig -o ${cfg}`;
    if (ctx.apply) await run(ctx.t, `${CFG_SCRIPT[family]}\n${REGENERATE[family]}`, regen, undefined, ctx.timeoutMs);
    const why =
      file.action !== 'none'
        ? `GRUB_CMDLINE_LINUX ${delta}`
        : missing
          ? `${cfg} is missing`
          : `${cfg} is stale (${[...new Set(stale)].join(' ')})`;
    const change: Change = {
      action: file.action === 'none' ? 'run' : file.action,
      summary: `${why}; ${regen}`,
      diff: file.diff,
      rebootRequired: true,
    };
    return change;
  },
});

/** /etc/default/grub with the tokens in GRUB_CMDLINE_LINUX and the absent ones out; the
 *  change, and what changed in words. */
async function editDefaultGrubFile(
  ctx: StepContext,
  ensure: string[],
  absent: string[],
): Promise<{ file: Change; delta: string }> {
  let edited: { before: string[]; after: string[] } = { before: [], after: [] };
  const file = await convergeFile(ctx, { path: DEFAULT_GRUB }, (cur) => {
    if (cur === undefined)
      throw new Error(
        `${DEFAULT_GRUB} does not exist; install the distribution's GRUB 2 package (grub-pc, grub-efi or grub2-tools) first`,
      );
    const r = editDefaultGrub(decodeText(DEFAULT_GRUB, cur), ensure, absent);
    edited = r;
    return r.text;
  });
  return { file, delta: describeDelta(edited.before, edited.after) };
}

/** grub.cfg: its path, whether it is missing, and the tokens its kernel lines have wrong. */
async function readGrubCfg(
  ctx: StepContext,
  family: 'debian' | 'redhat',
  ensure: string[],
  absent: string[],
): Promise<{ cfg: string; missing: boolean; stale: string[] }> {
  const probed = await probeFrames(
    ctx.t,
    `${CFG_SCRIPT[family]}\nrp_frame cfg; printf '%s\\n' "$cfg"\nif [ -r "$cfg" ]; then rp_frame text; cat "$cfg"; fi`,
    'read grub.cfg',
    ctx.timeoutMs,
  );
  const cfg = bodyLines(probed.body('cfg'))[0] ?? '';
  const cfgText = probed.body('text');
  const missing = !probed.has('text');
  const stale = missing ? [] : grubCfgKernelArgs(cfgText).flatMap((a) => staleTokens(a, ensure, absent));
  return { cfg, missing, stale };
}

function describeDelta(before: string[], after: string[]): string {
  const added = after.filter((t) => !before.includes(t));
  const removed = before.filter((t) => !after.includes(t));
  return (
    [added.length ? `+ ${added.join(' ')}` : '', removed.length ? `- ${removed.join(' ')}` : '']
      .filter(Boolean)
      .join(', ') || 'deduplicated'
  );
}

/** EL6: kernel lines of /boot/grub/grub.conf, changed by grubby on a live host (the
 *  distribution's own tool) and written directly in an image (no grubby on the build host). */
async function legacy(ctx: StepContext, ensure: string[], absent: string[], what: string): Promise<Change> {
  const plan = await convergeFile({ ...ctx, apply: false }, { path: LEGACY_GRUB_CONF }, (cur) => {
    if (cur === undefined)
      throw new Error(`${LEGACY_GRUB_CONF} does not exist; this host's facts say legacy GRUB: install grub and grubby`);
    return editLegacyGrubConf(decodeText(LEGACY_GRUB_CONF, cur), ensure, absent);
  });
  if (plan.action === 'none') return noChange(`kernel command line ${what} (every kernel line of ${LEGACY_GRUB_CONF})`);
  const image = isImageTarget(ctx.t);
  const cmd = [
    'grubby --update-kernel=ALL',
    ensure.length ? `--args=${shq(ensure.join(' '))}` : '',
    absent.length ? `--remove-args=${shq(absent.join(' '))}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  if (ctx.apply) {
    if (image)
      await convergeFile(ctx, { path: LEGACY_GRUB_CONF }, (cur) =>
        editLegacyGrubConf(decodeText(LEGACY_GRUB_CONF, cur!), ensure, absent),
      );
    else {
      await run(ctx.t, cmd, 'grubby', undefined, ctx.timeoutMs);
      const after = await run(
        ctx.t,
        `cat ${shq(hostPath(ctx.t, LEGACY_GRUB_CONF))}`,
        `read ${LEGACY_GRUB_CONF}`,
        undefined,
        ctx.timeoutMs,
      );
      if (editLegacyGrubConf(after, ensure, absent) !== after)
        throw new Error(
          `grubby ran but some kernel line of ${LEGACY_GRUB_CONF} still does not match (${what}); check the file by hand`,
        );
    }
  }
  return {
    action: 'update',
    summary: `${LEGACY_GRUB_CONF}: every kernel line ${what}; ${image ? 'written directly (image)' : cmd}`,
    diff: plan.diff,
    rebootRequired: true,
  };
}
