import { probe, probeFrames } from '../transport/fileops.ts';
import { HostKeyError, isReconnectable, type ExecResult, type Transport } from '../transport/types.ts';
import { defineStep } from './types.ts';
import { commandFailed } from '../shell.ts';
import { LENT_EXPORTS_SCRIPT, parseLentExports, rebootRefusal } from '../modern/drain.ts';

export type RebootArgs = {
  timeout_s?: number;
  connect_timeout_s?: number;
  ignore_lent_ram?: boolean;
};

const BOOT_ID = 'cat /proc/sys/kernel/random/boot_id';
const POLL_INTERVAL_MS = 1000;

// Detached so the command returns before the connection drops: systemd-run hands the
// reboot to PID 1 one second later; without systemd, a background sleep does the same.
const TRIGGER = [
  'if command -v systemd-run >/dev/null 2>&1 && [ -d /run/systemd/system ] && systemd-run --on-active=1 systemctl reboot >/dev/null 2>&1; then exit 0; fi',
  "nohup sh -c 'sleep 1; reboot' >/dev/null 2>&1 </dev/null &",
].join('\n');

export const rebootStep = defineStep<RebootArgs>()({
  name: 'reboot',
  description:
    "Reboots the host over SSH and waits until it answers with a new boot_id. Refused on a host that lends RAM (modern backend: live nvmet exports) until `ramster-provision drain` brought its borrowers' pages home.",
  argsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      timeout_s: {
        type: 'number',
        exclusiveMinimum: 0,
        description: 'How long to wait for the host to come back (default 600).',
      },
      connect_timeout_s: {
        type: 'number',
        exclusiveMinimum: 0,
        description: 'Timeout of each connection attempt while waiting (default 10).',
      },
      ignore_lent_ram: {
        type: 'boolean',
        description:
          'Reboot a host that lends RAM to borrowers (modern backend) without draining it first: their pages there are lost. Default false: refused, naming `ramster-provision drain`.',
      },
    },
  },
  async checkApply(args, ctx) {
    refuseLocal(ctx.t);
    if (!args.ignore_lent_ram) {
      const exports = await probeFrames(ctx.t, LENT_EXPORTS_SCRIPT, 'read the nvmet exports', ctx.timeoutMs);
      const lent = rebootRefusal(ctx.host, parseLentExports(exports));
      if (lent) throw new Error(lent);
    }
    const oldId = (await probe(ctx.t, BOOT_ID, 'read boot_id', ctx.timeoutMs)).trim();
    if (!oldId) throw new Error(`${ctx.t.target} returned an empty boot_id; cannot tell when the reboot has happened`);
    const change = { action: 'run' as const, summary: `reboot (boot_id ${oldId})` };
    if (!ctx.apply) return change;
    ctx.log(`rebooting (boot_id ${oldId})`);
    await triggerReboot(ctx.t);
    const newId = await waitForNewBootId(ctx.t, oldId, {
      timeoutMs: (args.timeout_s ?? 600) * 1000,
      connectTimeoutMs: (args.connect_timeout_s ?? 10) * 1000,
    });
    ctx.log(`back up (boot_id ${newId})`);
    return change;
  },
});

function refuseLocal(t: Transport): void {
  if (t.kind === 'local' || t.kind === 'chroot') {
    throw new Error(
      `reboot refused on ${t.target}: the ${t.kind} transport works on this machine${t.kind === 'local' && !t.root ? '' : ' or a folder'}, and rebooting it would end this run. ` +
        "Reach the host over SSH (connection: ssh), or leave the reboot to the image's first boot (when: a condition that excludes folder targets).",
    );
  }
}

/** Starts the reboot; a connection that drops while the trigger returns is expected. */
export async function triggerReboot(t: Transport): Promise<void> {
  let r: ExecResult;
  try {
    r = await t.exec(TRIGGER, { timeoutMs: 30_000 });
  } catch {
    return; // the host went down under us: the reboot is happening
  }
  if (r.code !== 0) throw new Error(commandFailed('starting the reboot', r, { lines: 3 }));
}

/** Polls until the host answers with a non-empty boot_id different from `oldId`
 *  (strict comparison). Reconnects before each attempt: the old connection dies with the
 *  old system. Used by the reboot step and the engine's cluster-wide reboots. */
export async function waitForNewBootId(
  t: Transport,
  oldId: string,
  opts: { timeoutMs: number; connectTimeoutMs: number },
): Promise<string> {
  refuseLocal(t);
  if (!isReconnectable(t))
    throw new Error(`${t.target}: this transport cannot reconnect, so it cannot wait for a reboot`);
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      await t.reconnect({ timeoutMs: left, connectTimeoutMs: Math.min(opts.connectTimeoutMs, left) });
      const r = await t.exec(BOOT_ID, { timeoutMs: Math.min(opts.connectTimeoutMs, Math.max(left, 1)) });
      const id = r.stdout.trim();
      if (r.code === 0 && id !== '' && id !== oldId) return id;
      last =
        r.code !== 0
          ? commandFailed('reading boot_id', r, { lines: 1 })
          : id === oldId
            ? 'still the old boot_id (not rebooted yet)'
            : 'empty boot_id';
    } catch (e) {
      if (e instanceof HostKeyError) throw e; // a changed host key is never waited out
      last = (e as Error).message;
    }
    const pause = Math.min(POLL_INTERVAL_MS, deadline - Date.now());
    if (pause > 0) await new Promise((r) => setTimeout(r, pause));
  }
  const waited = Math.round((Date.now() - started) / 1000);
  throw new Error(
    `${t.target} did not come back with a new boot_id within ${waited} s (timeout ${Math.round(opts.timeoutMs / 1000)} s; last: ${last}); ` +
      'check the console, or raise timeout_s if the host boots slowly',
  );
}
