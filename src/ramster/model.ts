/**
 * Staging RAMster's cluster settings (ramster.conf, configfs and /etc/default/ramster): their
 * schema, defaults and rules. The inventory loader finds them in a `ramster:` section; steps and
 * renderers get a LegacyCluster.
 */
import { type ClusterShape, integerSetting, type SettingProblem, type SettingSchema } from '../cluster/model.ts';

export interface RamsterSettings {
  /** ramster.conf `ip_port`. */
  port: number;
  heartbeatDeadThreshold: number;
  idleTimeoutMs: number;
  keepaliveDelayMs: number;
  reconnectDelayMs: number;
}

export interface LegacyCluster extends ClusterShape {
  backend: 'legacy';
  ramster: RamsterSettings;
}

/** A delay in milliseconds that the kernel keeps in 32 bits, 2000 by default (keepalive, reconnect). */
const delayMs = (description: string) =>
  ({
    description,
    type: 'integer',
    minimum: 1,
    maximum: 4294967294,
    default: 2000,
    errorMessage: {
      type: 'must be a whole number of milliseconds from 1 to 4294967294\nhint: the default is 2000',
      minimum: 'must be from 1 to 4294967294 milliseconds\nhint: the default is 2000',
      maximum:
        'must be from 1 to 4294967294 milliseconds\nhint: the kernel keeps it in 32 bits and refuses larger values; the default is 2000',
    },
  }) as const;

/** The `ramster:` section's keys for staging RAMster (the inventory schema's fragment). */
export const RAMSTER_SETTINGS_SCHEMA = {
  port: {
    description: 'TCP port the nodes use between each other (ramster.conf `ip_port`). Default: 7777.',
    type: 'integer',
    minimum: 1,
    maximum: 65534,
    default: 7777,
    errorMessage: {
      type: 'must be a port number\nhint: write a whole number from 1 to 65534, e.g. 7777',
      minimum: 'must be a port number from 1 to 65534\nhint: the kernel accepts 1 to 65534; the usual value is 7777',
      maximum: 'must be a port number from 1 to 65534\nhint: the kernel accepts 1 to 65534; the usual value is 7777',
    },
  },
  heartbeat_dead_threshold: {
    description:
      "Heartbeat dead threshold (configfs heartbeat/dead_threshold). 3 to 4294967295: the kernel silently ignores values of 2 or less and keeps it in 32 bits. Default: 500 (the HOW-TO's value).",
    type: 'integer',
    minimum: 3,
    maximum: 4294967295,
    default: 500,
    errorMessage: {
      type: 'must be a whole number from 3 to 4294967295\nhint: the HOW-TO uses 500',
      minimum: 'must be greater than 2\nhint: the kernel silently ignores values of 2 or less; the HOW-TO uses 500',
      maximum:
        'must be from 3 to 4294967295\nhint: the kernel keeps it in 32 bits, so a larger value would wrap around; the HOW-TO uses 500',
    },
  },
  idle_timeout_ms: {
    description:
      "Network idle timeout in milliseconds, 1 to 4294967294 (the kernel keeps it in 32 bits); must be greater than keepalive_delay_ms. Nodes that do not connect within it give up until reboot. Default: 1000000 (the HOW-TO's value).",
    type: 'integer',
    minimum: 1,
    maximum: 4294967294,
    default: 1000000,
    errorMessage: {
      type: 'must be a whole number of milliseconds from 1 to 4294967294\nhint: the HOW-TO uses 1000000',
      minimum: 'must be from 1 to 4294967294 milliseconds\nhint: the HOW-TO uses 1000000',
      maximum:
        'must be from 1 to 4294967294 milliseconds\nhint: the kernel keeps it in 32 bits and refuses larger values; the HOW-TO uses 1000000',
    },
  },
  keepalive_delay_ms: delayMs(
    'Network keepalive delay in milliseconds, 1 to 4294967294; must be below idle_timeout_ms. Default: 2000.',
  ),
  reconnect_delay_ms: delayMs('Delay between reconnection attempts in milliseconds, 1 to 4294967294. Default: 2000.'),
} as const satisfies Record<string, SettingSchema>;

type Key = keyof typeof RAMSTER_SETTINGS_SCHEMA;
const FIELD: Record<Key, keyof RamsterSettings> = {
  port: 'port',
  heartbeat_dead_threshold: 'heartbeatDeadThreshold',
  idle_timeout_ms: 'idleTimeoutMs',
  keepalive_delay_ms: 'keepaliveDelayMs',
  reconnect_delay_ms: 'reconnectDelayMs',
};

/** The settings of a `ramster:` section: each value the schema accepts (the rest were
 *  reported by it), else the default. */
export function ramsterSettings(section: Record<string, unknown>): RamsterSettings {
  const settings = {} as RamsterSettings;
  for (const [key, field] of Object.entries(FIELD) as [Key, keyof RamsterSettings][])
    settings[field] = integerSetting(RAMSTER_SETTINGS_SCHEMA[key], section[key]) as number;
  return settings;
}

/** Rules between the settings that the schema cannot say. */
export function ramsterSettingProblems(
  s: RamsterSettings,
  section: Record<string, unknown>,
  label: string,
): SettingProblem[] {
  if (s.idleTimeoutMs > s.keepaliveDelayMs) return [];
  return [
    {
      key: 'idle_timeout_ms' in section ? 'idle_timeout_ms' : 'keepalive_delay_ms',
      message: `\`idle_timeout_ms\` (${s.idleTimeoutMs}) of ${label} must be greater than \`keepalive_delay_ms\` (${s.keepaliveDelayMs})`,
      hint: 'the kernel refuses an idle timeout that is not above the keepalive delay: raise `idle_timeout_ms` (the HOW-TO uses 1000000) or lower `keepalive_delay_ms`',
    },
  ];
}
