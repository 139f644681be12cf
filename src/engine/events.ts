import type { StepSpec } from '../playbook/types.ts';
import type { HostResult, StepResult } from './result.ts';

export interface EngineEvents {
  hostStart?(host: string): void;
  stepStart?(host: string, step: StepSpec, handler: boolean): void;
  /** The host waits at the cluster barrier in front of `step` until every member arrives. */
  barrierWait?(host: string, step: StepSpec): void;
  stepEnd?(host: string, result: StepResult): void;
  hostEnd?(host: string, result: HostResult): void;
  log?(host: string, line: string): void;
}
