import { probeFrames, run } from '../transport/fileops.ts';
import { bodyLines } from '../frame.ts';
import { hostPath, isImageTarget } from '../transport/types.ts';
import { defineStep, noChange, type Change, type StepContext } from './types.ts';
import { shq } from '../shell.ts';

export type ServiceArgs = {
  name: string;
  enabled?: boolean;
  state?: 'started' | 'stopped' | 'restarted' | 'reloaded';
  daemon_reload?: boolean;
};

const NAME = /^[A-Za-z0-9][A-Za-z0-9@:._\\-]*$/;

export const serviceStep = defineStep<ServiceArgs>()({
  name: 'service',
  description:
    'A service enabled at boot and/or running, through systemd or SysV init (from the host facts). For a folder target only enablement is managed (systemctl --root).',
  argsSchema: {
    type: 'object',
    required: ['name'],
    additionalProperties: false,
    properties: {
      name: {
        type: 'string',
        pattern: NAME.source,
        description: 'Unit or init script name, e.g. "ssh" or "ramster-heartbeat.service".',
      },
      enabled: { type: 'boolean', description: 'Start at boot (true) or not (false); unset: leave as is.' },
      state: {
        enum: ['started', 'stopped', 'restarted', 'reloaded'],
        description:
          'started/stopped converge; restarted and reloaded always act (meant for handlers). Not managed for a folder target.',
      },
      daemon_reload: {
        type: 'boolean',
        description:
          'systemd: run systemctl daemon-reload first whenever something is to be done (after unit files changed).',
      },
    },
  },
  async checkApply(args, ctx) {
    if (!NAME.test(args.name))
      throw new Error(`service name "${args.name}" contains characters a unit or init script name cannot have`);
    if (args.enabled === undefined && args.state === undefined) throw new Error('service: give enabled and/or state');
    const init = ctx.facts.init_system;
    if (init === 'unknown')
      throw new Error(
        `cannot tell the init system of ${ctx.host} (neither systemd nor SysV init found); manage the service by a command step`,
      );
    const backend = init === 'systemd' ? systemd(ctx, args) : sysv(ctx, args);
    const cur = await backend.read();
    const { todo, conditional, skipped } = serviceActions(args, ctx, cur);

    if (!todo.length) return unchanged(args, skipped);
    if (args.daemon_reload && init === 'systemd' && !ctx.t.root) todo.unshift('daemon-reload');
    if (ctx.apply)
      await run(
        ctx.t,
        todo.map((a) => backend.command(a)).join(' && '),
        `service ${args.name} ${todo.join(', ')}`,
        undefined,
        ctx.timeoutMs,
      );
    const change: Change = {
      action: todo.includes('restart') || todo.includes('reload') ? 'run' : 'update',
      summary: `service ${args.name}: ${todo.join(', ')}${skipped ? ` (${skipped})` : ''}`,
    };
    if (conditional) change.conditional = conditional;
    // An image's unit is started by its init at boot: that part of the change happens then.
    if (skipped && args.state === 'started') change.rebootRequired = true;
    return change;
  },
});

/** What brings the service where args want it: the actions to run, why the change is
 *  conditional (a dry run before the unit is installed), and what is skipped on an image. */
function serviceActions(
  args: ServiceArgs,
  ctx: StepContext,
  cur: Current,
): { todo: string[]; conditional?: string; skipped?: string } {
  const todo: string[] = [];
  let conditional: string | undefined;
  if (args.enabled !== undefined) {
    if (cur.enabled === 'missing') {
      if (args.enabled) {
        // A dry run may come before the step that installs the unit: say so instead of failing.
        if (ctx.apply)
          throw new Error(
            `service ${args.name} not found on ${ctx.host} (no unit file or init script); install it first`,
          );
        conditional = `${args.name} is not installed yet; assumes an earlier step installs it`;
        todo.push('enable');
      }
    } else if (cur.enabled === 'masked' && args.enabled) {
      throw new Error(
        `service ${args.name} is masked; unmask it (systemctl unmask ${args.name}) or stop asking for enabled: true`,
      );
    } else if (args.enabled && cur.enabled === 'no') todo.push('enable');
    else if (!args.enabled && cur.enabled === 'yes') todo.push('disable');
  }

  let skipped: string | undefined;
  if (args.state !== undefined) {
    if (isImageTarget(ctx.t)) {
      skipped = `state ${args.state} not managed: ${ctx.t.target} is an image, not a live host (no running init)`;
    } else {
      const running = cur.running;
      if (args.state === 'started' && !running) todo.push('start');
      if (args.state === 'stopped' && running) todo.push('stop');
      if (args.state === 'restarted') todo.push('restart');
      if (args.state === 'reloaded') todo.push(running ? 'reload' : 'start');
    }
  }
  return { todo, conditional, skipped };
}

/** The service is as args want it (apart from what is skipped). */
function unchanged(args: ServiceArgs, skipped: string | undefined): Change {
  const state = [
    args.enabled !== undefined ? (args.enabled ? 'enabled' : 'disabled') : '',
    args.state && !skipped ? args.state : '',
  ]
    .filter(Boolean)
    .join(', ');
  const none = noChange(`service ${args.name}${state ? ` ${state}` : ''}${skipped ? ` (${skipped})` : ''}`);
  if (skipped) none.skipped = skipped;
  return none;
}

interface Current {
  enabled: 'yes' | 'no' | 'masked' | 'missing';
  running: boolean;
}

interface Backend {
  /** One round trip for enablement and running state. */
  read(): Promise<Current>;
  command(action: string): string;
}

// Unit states that need no `systemctl enable` (static units have no [Install] section).
const SYSTEMD_ENABLED = new Set([
  'enabled',
  'enabled-runtime',
  'alias',
  'static',
  'indirect',
  'generated',
  'transient',
]);

function systemd(ctx: StepContext, args: ServiceArgs): Backend {
  const root = ctx.t.root;
  const sc = `systemctl${root ? ` --root=${shq(root)}` : ''}`;
  const unit = shq(args.name);
  return {
    async read() {
      const probeActive = root ? '' : `; rp_frame active; systemctl is-active ${unit} 2>/dev/null || true`;
      const frames = await probeFrames(
        ctx.t,
        `rp_frame enabled; ${sc} is-enabled ${unit} 2>/dev/null | head -n1${probeActive}`,
        `read state of ${args.name}`,
        ctx.timeoutMs,
      );
      const value = (name: string) => (bodyLines(frames.body(name))[0] ?? '').trim();
      const e = value('enabled');
      return {
        enabled:
          e === '' || e === 'not-found'
            ? 'missing'
            : e.startsWith('masked')
              ? 'masked'
              : SYSTEMD_ENABLED.has(e)
                ? 'yes'
                : 'no',
        running: ['active', 'reloading', 'activating'].includes(value('active')),
      };
    },
    command: (a) =>
      a === 'daemon-reload'
        ? 'systemctl daemon-reload'
        : a === 'enable' || a === 'disable'
          ? `${sc} ${a} ${unit}`
          : `systemctl ${a} ${unit}`,
  };
}

/** SysV: enablement is read from the rc?.d start links (Debian /etc/rcN.d, Red Hat
 *  /etc/rc.d/rcN.d) and changed with update-rc.d (Debian) or chkconfig (Red Hat);
 *  a folder target runs those tools chrooted into it. */
function sysv(ctx: StepContext, args: ServiceArgs): Backend {
  const root = ctx.t.root;
  const r = root ? shq(root) : '';
  const name = args.name.replace(/\.service$/, '');
  const q = shq(name);
  const debian = ctx.facts.os_family === 'debian';
  const inRoot = (cmd: string) => (root ? `chroot ${r} ${cmd}` : cmd);
  const p = (path: string) => shq(hostPath(ctx.t, path));
  const rcDirs = [2, 3, 4, 5].flatMap((l) => [`/etc/rc${l}.d`, `/etc/rc.d/rc${l}.d`]);
  return {
    async read() {
      const script = [
        `n=${q}`,
        `on=no; for d in ${rcDirs.map(p).join(' ')}; do for f in "$d"/S[0-9][0-9]"$n"; do [ -e "$f" ] && on=yes; done; done`,
        `if [ ! -e ${p(`/etc/init.d/${name}`)} ] && [ ! -e ${p(`/etc/rc.d/init.d/${name}`)} ]; then rp_frame enabled missing; else rp_frame enabled "$on"; fi`,
        root ? '' : `if service "$n" status >/dev/null 2>&1; then rp_frame active yes; else rp_frame active no; fi`,
      ].join('\n');
      const frames = await probeFrames(ctx.t, script, `read state of ${name}`, ctx.timeoutMs);
      const enabled = frames.get('enabled')?.key as Current['enabled'];
      return { enabled, running: frames.get('active')?.key === 'yes' };
    },
    command(a) {
      if (a === 'enable')
        return `${inRoot(debian ? `update-rc.d ${q} defaults` : `chkconfig --add ${q}`)} && ${inRoot(debian ? `update-rc.d ${q} enable` : `chkconfig ${q} on`)}`;
      if (a === 'disable') return inRoot(debian ? `update-rc.d ${q} disable` : `chkconfig ${q} off`);
      return `service ${q} ${a}`;
    },
  };
}
