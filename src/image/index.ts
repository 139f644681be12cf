/** CI image builds: one inventory host baked into a bootable disk image. */
export {
  buildImage,
  knownHostsPathFor,
  SITE_PLAYBOOK,
  type ImageBuildOptions,
  type ImageBuildResult,
  type ImageInfo,
} from './build.ts';
export { deferredSteps, formatDeferred, type DeferredStep } from './deferred.ts';
export { ImageChrootTransport, execInImage } from './chroot.ts';
export { mountsUnder } from './cleanup.ts';
