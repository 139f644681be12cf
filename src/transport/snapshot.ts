/**
 * File-state snapshot: the state of every file a host's steps will read, taken in one remote
 * command (the engine runs it with the facts), so a converged host costs no round trip per step.
 * A transport that carries one (`Transport.snapshot`) answers readFileState from it.
 */

export interface FileState {
  exists: boolean;
  isDir?: boolean;
  mode?: string; // octal, 4 digits, e.g. "0644"
  owner?: string;
  group?: string;
  content?: Buffer;
}

/** Files larger than this are left out of a snapshot (read live when a step asks). */
export const SNAPSHOT_MAX_BYTES = 256 * 1024;

/**
 * File states read at one moment, served to readFileState until a command may have changed
 * them. Only paths without a symlink anywhere in them, that are directories, absent, or regular
 * files with one link and at most SNAPSHOT_MAX_BYTES are kept: for those, a write to the path
 * changes no other path's state except its folders (`mkdir -p`) and its backup copies.
 */
export class FileStateSnapshot {
  private readonly states = new Map<string, FileState>();
  /** Paths known to be symlink-free: a write there cannot change another snapshot path. */
  private readonly plain = new Set<string>();

  add(path: string, state: FileState): void {
    this.states.set(path, state);
    this.plain.add(path);
  }

  get size(): number {
    return this.states.size;
  }

  get(path: string, withContent: boolean): FileState | undefined {
    const st = this.states.get(path);
    if (!st) return undefined;
    return withContent || !st.content ? { ...st } : { ...st, content: undefined };
  }

  /** Forgets what a command may have changed: `touches` paths (with their folders and backup
   *  copies), or everything when the command did not say or touches a path not known plain. */
  changed(touches: string[] | undefined): void {
    if (!touches || touches.some((p) => !this.plain.has(p))) {
      this.states.clear();
      return;
    }
    for (const p of touches) {
      for (const k of [...this.states.keys()]) {
        const backup = k.startsWith(`${p}.`) && /^\.\d{14}~$/.test(k.slice(p.length));
        if (k === p || backup || k.startsWith(`${p}/`) || p.startsWith(`${k}/`)) this.states.delete(k);
      }
    }
  }
}
