/**
 * Many devices: at most `concurrency` at once, and no new host started once more than `maxFail` have failed
 * (Ansible's max_fail_percentage, as a count). Hosts never started keep whatever release they had.
 */
import { FieldError } from '../errors.js';
import type { HostTarget } from './hosts.js';

export type HostStatus = 'ok' | 'failed' | 'not started';

export interface HostOutcome<T> {
  target: HostTarget;
  status: HostStatus;
  value: T | null;
  error: string | null;
  seconds: number;
}

function maxFailError(value: string, problem: string): FieldError {
  return new FieldError({ field: 'maxFail', value, expected: 'a count (N) or a percentage 0..100 (P%)', problem });
}

/** `--max-fail N` or `P%` as the number of failures tolerated; Infinity without the option. */
export function maxFailFrom(value: string | undefined, hosts: number): number {
  if (value === undefined) return Infinity;
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(value);
  if (percent) {
    const p = Number(percent[1]);
    if (p > 100) throw maxFailError(value, `${value}: a percentage must be 0..100%`);
    return Math.floor((p / 100) * hosts);
  }
  if (!/^\d+$/.test(value)) throw maxFailError(value, `expects a count (N) or a percentage (P%), got '${value}'`);
  return Number(value);
}

export async function forEachHost<T>(options: {
  targets: HostTarget[];
  concurrency: number;
  maxFail: number;
  work: (target: HostTarget) => Promise<T>;
  /** How a failure reads (the CLI tells a FieldError's field as its flag); default: the error's message. */
  describe?: (error: Error) => string;
}): Promise<HostOutcome<T>[]> {
  const outcomes: HostOutcome<T>[] = options.targets.map((target) => ({
    target,
    status: 'not started',
    value: null,
    error: null,
    seconds: 0,
  }));
  let next = 0;
  let failures = 0;
  const worker = async () => {
    while (next < outcomes.length && failures <= options.maxFail) {
      const outcome = outcomes[next++]!;
      const started = performance.now();
      try {
        outcome.value = await options.work(outcome.target);
        outcome.status = 'ok';
      } catch (error) {
        outcome.status = 'failed';
        outcome.error = options.describe?.(error as Error) ?? (error as Error).message;
        failures += 1;
      }
      outcome.seconds = (performance.now() - started) / 1000;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, outcomes.length)) }, worker));
  return outcomes;
}
