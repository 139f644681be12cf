import { blockInFileStep } from './blockinfile.ts';
import { commandStep } from './command.ts';
import { fileStep } from './file.ts';
import { lineInFileStep } from './lineinfile.ts';
import { modernBorrowStep } from './modern/borrow.ts';
import { modernConfStep } from './modern/conf.ts';
import { modernReleaseStep, modernUnlendStep } from './modern/drain.ts';
import { modernLendStep } from './modern/lend.ts';
import { modernVerifyStep } from './modern/verify.ts';
import { mountStep } from './mount.ts';
import { packageStep } from './package.ts';
import { rebootStep } from './reboot.ts';
import { bringupStep } from './ramster/bringup.ts';
import { ramsterConfStep } from './ramster/conf.ts';
import { ramsterDefaultsStep } from './ramster/defaults.ts';
import { grubCmdlineStep } from './ramster/grub.ts';
import { kconfigStep } from './ramster/kconfig.ts';
import { kernelBuildStep } from './ramster/kernel-build.ts';
import { preflightStep } from './ramster/preflight.ts';
import { rclocalStep } from './ramster/rclocal.ts';
import { verifyStep } from './ramster/verify.ts';
import { serviceStep } from './service.ts';
import { sysfsStep } from './sysfs.ts';
import { templateStep } from './template.ts';
import type { StepType } from './types.ts';

// Args are validated against each step's argsSchema before checkApply sees them, and
// defineStep has checked at compile time that each argsSchema fits the step's args type, so the
// registry holds every step under the generic type (no cast: args types are type aliases, which
// are assignable to Record<string, unknown>).
const generic = [
  fileStep,
  templateStep,
  blockInFileStep,
  lineInFileStep,
  commandStep,
  packageStep,
  serviceStep,
  sysfsStep,
  mountStep,
  rebootStep,
];
// The legacy RAMster HOW-TO steps that the generic ones cannot express (playbooks/site.yaml).
const ramster = [
  preflightStep,
  kconfigStep,
  kernelBuildStep,
  grubCmdlineStep,
  ramsterConfStep,
  ramsterDefaultsStep,
  rclocalStep,
  bringupStep,
  verifyStep,
];
// The modern backend: zswap + swap on another node's RAM over NVMe/TCP (playbooks/site.yaml).
const modern = [
  modernConfStep,
  modernLendStep,
  modernBorrowStep,
  modernVerifyStep,
  modernReleaseStep,
  modernUnlendStep,
];
const all: StepType[] = [...generic, ...ramster, ...modern];

/** Every step type by name. A new step type is one file plus one entry here. */
export const stepTypes: Map<string, StepType> = new Map(all.map((s) => [s.name, s]));

/** `{ [step type]: JSON Schema of its args }`, for the playbook schema. */
export function stepSchemas(): Record<string, Record<string, unknown>> {
  return Object.fromEntries([...stepTypes].map(([name, s]) => [name, s.argsSchema]));
}
