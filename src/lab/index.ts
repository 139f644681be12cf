/** The QEMU lab: a RAMster-ready cluster of Debian guests on one machine. */
export { labUp, labStatus, labDown, labImageKind, type LabUpOptions, type LabStatus, type GuestStatus } from './lab.ts';
export { checkPrerequisites, LAB_TOOLS, type PrerequisiteReport } from '../guestimage/prereqs.ts';
export { ensureImage, imageHash, type LabImage } from '../guestimage/image.ts';
export {
  startGuest,
  stopGuest,
  rebootGuest,
  saveSnapshot,
  loadSnapshot,
  deleteSnapshot,
  syncClock,
  qemuRunning,
  supervisorRunning,
  type RebootResult,
} from './guest.ts';
export { qmp, hmp, type QmpCommand } from './qmp.ts';
export { sshRun, sshCheck, readBootId, waitForSsh, type SshTarget, type SshResult } from './ssh.ts';
export { readState, guestOf, sshTarget, type LabState, type GuestState, type Accel } from './state.ts';
export { labCacheDir, defaultLabDir } from '../guestimage/paths.ts';
export { LabError } from './errors.ts';
export type { LabLog, LabProgress, LabProgressEvent } from '../guestimage/progress.ts';
export { describeLab, formatLabStatus } from './format.ts';
