import { EXIT } from '../../engine/result.ts';
import { buildImage, formatDeferred } from '../../image/index.ts';
import { labCacheDir } from '../../guestimage/paths.ts';
import { plainProgress } from '../../report/progress.ts';
import { makeStyle } from '../../report/style.ts';
import { formatChanges, formatRecap } from '../../report/summary.ts';

export interface ImageBuildFlags {
  inventory: string;
  host: string;
  output: string;
  authorizedKey?: string;
  hostKey?: string;
  clusterPrefix: number;
  clusterMac?: string;
  size: number;
  cache?: string;
  freshBase: boolean;
  stepTimeout?: number;
  diff: boolean;
  verbose: boolean;
  json: boolean;
  color: boolean;
}

export async function buildImageCommand(
  playbook: string,
  o: ImageBuildFlags,
  setCode: (c: number) => void,
): Promise<void> {
  const human = o.json ? process.stderr : process.stdout;
  const st = makeStyle(human, !o.color);
  const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  const progress = plainProgress(human, st, o.verbose);
  const abort = new AbortController();
  const onSignal = (sig: string) => {
    if (abort.signal.aborted) process.exit(EXIT.INTERRUPTED);
    log(`${sig}: stopping after the current part; the image will not be written (repeat to quit at once)`);
    abort.abort();
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt).on('SIGTERM', onTerm);
  try {
    const res = await buildImage({
      inventory: o.inventory,
      host: o.host,
      output: o.output,
      playbook,
      authorizedKeyFile: o.authorizedKey,
      hostKeyFile: o.hostKey,
      clusterPrefix: o.clusterPrefix,
      clusterMac: o.clusterMac,
      sizeMb: o.size,
      cacheDir: o.cache ?? labCacheDir(),
      freshBase: o.freshBase,
      stepTimeoutMs: o.stepTimeout ? o.stepTimeout * 1000 : undefined,
      log,
      events: progress.events,
      signal: abort.signal,
    });
    await progress.finish();
    writeImageReport(human, st, res, o);
    setCode(res.image ? EXIT.OK : res.run.interrupted || abort.signal.aborted ? EXIT.INTERRUPTED : EXIT.HOST_FAILED);
  } catch (e) {
    if (abort.signal.aborted) {
      process.stderr.write(`error: ${(e as Error).message}\n`);
      setCode(EXIT.INTERRUPTED);
      return;
    }
    throw e;
  } finally {
    process.off('SIGINT', onInt).off('SIGTERM', onTerm);
  }
}

/** The run's changes and recap, then the image written (or why none was); the JSON result with --json. */
function writeImageReport(
  human: NodeJS.WriteStream,
  st: ReturnType<typeof makeStyle>,
  res: Awaited<ReturnType<typeof buildImage>>,
  o: ImageBuildFlags,
): void {
  const changes = formatChanges(res.run, st, Boolean(o.diff));
  if (changes) human.write(`\n${changes}\n`);
  human.write(`\n${formatRecap(res.run, st)}\n`);
  if (res.image) {
    const img = res.image;
    const deferred = formatDeferred(img.deferred);
    if (deferred) human.write(`\n${deferred}\n`);
    human.write(
      `\n${st.bold('IMAGE')} ${img.output} (${img.format}, ${(img.allocatedBytes / 2 ** 20).toFixed(0)} MiB on disk) for ${img.host} (${img.hostname}` +
        `${img.clusterAddress ? `, cluster address ${img.clusterAddress}` : ''}), built in ${img.timings.total.toFixed(1)} s\n` +
        `kernel command line: ${img.kernelCmdline.join(' ') || '(none)'}\n` +
        `known_hosts: ${img.knownHosts}\n  ${img.knownHostsLine}\n`,
    );
  } else {
    human.write(`\n${st.red(`no image written: ${res.error}`)}\n`);
  }
  if (o.json) process.stdout.write(`${JSON.stringify({ ...res.run, image: res.image, error: res.error }, null, 2)}\n`);
}
