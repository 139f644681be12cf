import type { HostResult } from '../engine/result.ts';

/**
 * What an image build could not finish by itself, from the run result of the chroot:
 * - `deferred`: not done in the image; `ramster-provision apply` against the booted host does
 *   it (live bring-up, verification, the cluster reboot handler…);
 * - `at-boot`: written into the image, takes effect when it boots (boot parameters, units that
 *   systemctl could only enable because no init runs in a chroot).
 */
export interface DeferredStep {
  step: string;
  type: string;
  handler: boolean;
  when: 'deferred' | 'at-boot';
  note: string;
}

/** `ignored[i]`: the systemctl verbs the chroot ignored during the host's i-th step. */
export function deferredSteps(h: HostResult, ignored: Map<number, string[]> = new Map()): DeferredStep[] {
  const out: DeferredStep[] = [];
  h.steps.forEach((s, i) => {
    const base = { step: s.step, type: s.type, handler: s.handler };
    if (s.status === 'skipped' && s.change?.skipped) out.push({ ...base, when: 'deferred', note: s.change.skipped });
    else if (s.status === 'skipped' && s.handler)
      out.push({ ...base, when: 'deferred', note: `not run in an image (${s.message ?? 'skipped'})` });
    const verbs = ignored.get(i) ?? [];
    if (verbs.length) {
      out.push({
        ...base,
        when: 'at-boot',
        note: `${verbs.join(', ')} not run (no init runs in a chroot): happens when the image boots, if the unit is enabled`,
      });
    }
    if (s.status === 'changed' && s.change?.rebootRequired) {
      out.push({
        ...base,
        when: 'at-boot',
        note:
          s.type === 'grub_cmdline'
            ? 'boot parameters: grub.cfg is generated with them when the disk is written'
            : 'takes effect when the image boots',
      });
    }
  });
  return out;
}

export function formatDeferred(items: DeferredStep[]): string {
  const section = (title: string, list: DeferredStep[]) =>
    list.length ? [title, ...list.map((d) => `  - ${d.handler ? 'handler ' : ''}${d.step}: ${d.note}`)] : [];
  return [
    ...section(
      'DEFERRED (not done in the image: `ramster-provision apply` against the booted host does it)',
      items.filter((d) => d.when === 'deferred'),
    ),
    ...section(
      'AT FIRST BOOT (in the image, takes effect when it boots)',
      items.filter((d) => d.when === 'at-boot'),
    ),
  ].join('\n');
}
