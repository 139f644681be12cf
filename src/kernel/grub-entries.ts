/**
 * The default boot entry for an installed kernel release. Debian-family GRUB: the entry's id
 * path in grub.cfg (`gnulinux-advanced-<uuid>>gnulinux-<release>-advanced-<uuid>`) saved in
 * grubenv, with GRUB_DEFAULT=saved (what grub-set-default does; ids survive title and
 * language changes). Red Hat family (and EL6 legacy GRUB): grubby --set-default.
 */

export interface GrubEntry {
  title: string;
  id?: string;
  /** Title and id of the enclosing submenu, when there is one. */
  parent?: { title: string; id?: string };
}

function quoted(s: string): string | undefined {
  const m = /^'((?:[^']|'\\'')*)'|^"((?:[^"\\]|\\.)*)"/.exec(s);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2].replace(/\\(.)/g, '$1');
}

/** Menu entries of a grub.cfg made by grub-mkconfig (submenu contents are indented). */
export function parseGrubEntries(cfg: string): GrubEntry[] {
  const out: GrubEntry[] = [];
  let submenu: GrubEntry['parent'];
  for (const line of cfg.split('\n')) {
    const m = /^(\s*)(submenu|menuentry)\s+(.*)$/.exec(line);
    if (!m) continue;
    const title = quoted(m[3]);
    if (title === undefined) continue;
    const idAt = m[3].indexOf('$menuentry_id_option');
    const id = idAt >= 0 ? quoted(m[3].slice(idAt + '$menuentry_id_option'.length).trim()) : undefined;
    if (m[2] === 'submenu') {
      submenu = { title, id };
      continue;
    }
    if (!m[1]) submenu = undefined;
    out.push({ title, id, parent: m[1] ? submenu : undefined });
  }
  return out;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The normal (not recovery) entry of `release`, as `saved_entry` values: by ids, by titles. */
export function grubEntryFor(cfg: string, release: string): { idPath?: string; titlePath: string } | undefined {
  const byId = new RegExp(`^gnulinux-${escapeRe(release)}-advanced-`);
  const byTitle = new RegExp(`with Linux ${escapeRe(release)}$`);
  const e = parseGrubEntries(cfg).find((x) => (x.id ? byId.test(x.id) : byTitle.test(x.title)));
  if (!e) return undefined;
  const titlePath = e.parent ? `${e.parent.title}>${e.title}` : e.title;
  const idPath = e.id && (!e.parent || e.parent.id) ? (e.parent ? `${e.parent.id}>${e.id}` : e.id) : undefined;
  return { idPath, titlePath };
}

export interface GrubDefaultState {
  /** Value of GRUB_DEFAULT in /etc/default/grub, unquoted ('' when absent). */
  grubDefault: string;
  /** saved_entry in /boot/grub/grubenv ('' when unset). */
  savedEntry: string;
  cfg: string;
}

export function unquoteShellValue(v: string): string {
  const t = v.trim();
  if (/^'.*'$/.test(t)) return t.slice(1, -1);
  if (/^".*"$/.test(t)) return t.slice(1, -1).replace(/\\(.)/g, '$1');
  return t;
}

/** Whether `release` boots by default, and what to save when it does not. */
export function grubDefaultCheck(s: GrubDefaultState, release: string): { ok: boolean; entry?: string; was: string } {
  const e = grubEntryFor(s.cfg, release);
  const was =
    s.grubDefault === 'saved' ? `saved: ${s.savedEntry || 'unset'}` : `GRUB_DEFAULT=${s.grubDefault || 'unset'}`;
  if (!e) return { ok: false, was };
  const names = [e.idPath, e.titlePath].filter((x): x is string => !!x);
  const chosen = s.grubDefault === 'saved' ? s.savedEntry : s.grubDefault;
  return { ok: names.includes(chosen), entry: e.idPath ?? e.titlePath, was };
}
