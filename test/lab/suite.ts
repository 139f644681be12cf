/** The lifecycle every lab suite file shares: one lab booted before its tests, stopped after
 *  them (its directory, with the guests' console logs, kept when a test failed), and the
 *  file's timings recorded. Call inside the file's `describe`. */
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { LabUpOptions } from '../../src/lab/index.ts';
import { downTestLab, upTestLab, type TestLab } from './helpers.ts';
import { CaseTimings } from './timing.ts';

export function labSuite(name: string, opts: Partial<LabUpOptions> = {}): { timings: CaseTimings; lab: () => TestLab } {
  const timings = new CaseTimings(name);
  let lab: TestLab | undefined;
  let failed = false;
  beforeAll(async () => {
    lab = await upTestLab(name, opts);
    timings.set('imageBuildCold', lab.imageBuildMs);
    timings.set('labUp', lab.upMs);
  });
  afterEach(({ task }) => {
    if (task.result?.state === 'fail') failed = true;
  });
  afterAll(async () => {
    if (lab) await downTestLab(lab.dir, { remove: !failed });
    timings.record();
  });
  return {
    timings,
    lab: () => {
      if (!lab) throw new Error(`the ${name} lab did not come up`);
      return lab;
    },
  };
}
