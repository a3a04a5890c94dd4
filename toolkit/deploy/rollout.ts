/**
 * Staged rollouts for users without Ansible: `--canary N` hosts first, then batches of `--batch N|P%`, stopping at the
 * first batch that fails (any failure, or more than `--max-fail` of that batch, as Ansible's max_fail_percentage
 * counts per `serial` batch). Hosts in later batches are never started and keep their release.
 */
import { FieldError } from '../errors.js';
import { forEachHost, maxFailFrom, type HostOutcome } from './fleet.js';
import type { HostTarget } from './hosts.js';

function batchError(value: string, problem: string): FieldError {
  return new FieldError({
    field: 'batch',
    value,
    expected: 'a count (N ≥ 1) or a percentage (P%, 0 < P ≤ 100)',
    problem,
  });
}

/** `--batch N` or `P%` of all hosts (rounded up, at least one), as Ansible reads `serial: "10%"`. */
export function batchSizeFrom(value: string, hosts: number): number {
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(value);
  if (percent) {
    const p = Number(percent[1]);
    if (p <= 0 || p > 100) throw batchError(value, `${value}: a percentage must be above 0 and at most 100%`);
    return Math.max(1, Math.ceil((p / 100) * hosts));
  }
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw batchError(value, `expects a count (N ≥ 1) or a percentage (P%), got '${value}'`);
  return Number(value);
}

/** The host indices of each stage, in order: the canaries, then the batches; one stage when neither is given. */
export function rolloutStages(options: { hosts: number; canary?: number; batch?: string }): number[][] {
  const indices = Array.from({ length: options.hosts }, (_, i) => i);
  const canary = Math.min(options.canary ?? 0, options.hosts);
  const stages = canary > 0 ? [indices.slice(0, canary)] : [];
  const rest = indices.slice(canary);
  const size = options.batch === undefined ? rest.length : batchSizeFrom(options.batch, options.hosts);
  for (let start = 0; start < rest.length; start += size) stages.push(rest.slice(start, start + size));
  return stages;
}

export interface RolloutResult<T> {
  outcomes: HostOutcome<T>[];
  /** Each host's stage (1-based), for the table. */
  stageOf: number[];
  stages: number;
  /** The stage that failed and stopped the rollout, or null. */
  stoppedAt: number | null;
}

/**
 * Runs the stages in order. With more than one stage a stage fails on any failure unless `maxFail` (N or P%, P of
 * that stage's hosts) allows more; with one stage `maxFail` only stops new hosts from starting, as before.
 */
export async function stagedRollout<T>(options: {
  targets: HostTarget[];
  stages: number[][];
  concurrency: number;
  maxFail: string | undefined;
  work: (target: HostTarget) => Promise<T>;
  describe?: (error: Error) => string;
}): Promise<RolloutResult<T>> {
  const { targets, stages } = options;
  const outcomes: HostOutcome<T>[] = targets.map((target) => ({
    target,
    status: 'not started',
    value: null,
    error: null,
    seconds: 0,
  }));
  const stageOf = new Array<number>(targets.length).fill(0);
  let stoppedAt: number | null = null;
  for (const [index, stage] of stages.entries()) {
    for (const i of stage) stageOf[i] = index + 1;
    if (stoppedAt !== null) continue;
    const tolerated =
      options.maxFail === undefined && stages.length > 1 ? 0 : maxFailFrom(options.maxFail, stage.length);
    const results = await forEachHost({
      targets: stage.map((i) => targets[i]!),
      concurrency: options.concurrency,
      maxFail: tolerated,
      work: options.work,
      ...(options.describe ? { describe: options.describe } : {}),
    });
    for (const [k, i] of stage.entries()) outcomes[i] = results[k]!;
    const failures = results.filter((r) => r.status === 'failed').length;
    if (stages.length > 1 && failures > tolerated) stoppedAt = index + 1;
  }
  return { outcomes, stageOf, stages: stages.length, stoppedAt };
}
