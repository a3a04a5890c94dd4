/**
 * Checks shared by option declarations. Each returns null for a good value, else the problem as it reads after the
 * option's name ("expects a positive integer, got 0"), so every option that takes, say, a count says it the same way.
 */
export type Validator<T> = (value: T) => string | null;

/** An integer of 1 or more: counts, batch sizes. */
export const positiveInteger: Validator<number> = (value) =>
  value >= 1 ? null : `expects a positive integer, got ${value}`;

/** An integer of at least `min`. */
export function integerAtLeast(min: number): Validator<number> {
  return (value) => (value >= min ? null : `expects an integer ≥ ${min}, got ${value}`);
}

/** An integer within [min, max]: bounds that keep a typo (--threads 5000) from hanging the machine. */
export function integerFrom(range: { min: number; max: number }): Validator<number> {
  return (value) =>
    value >= range.min && value <= range.max
      ? null
      : `expects an integer from ${range.min} to ${range.max}, got ${value}`;
}

/** A duration in seconds, above 0. */
export const positiveSeconds: Validator<number> = (value) => (value > 0 ? null : `expects seconds > 0, got ${value}`);

/** A number of at least 0, in the option's unit ("points of top-1"). */
export function nonNegative(unit: string): Validator<number> {
  return (value) => (value >= 0 ? null : `expects ${unit} (a number ≥ 0), got ${value}`);
}

/** A percentage: above 0, at most 100. */
export const percentage: Validator<number> = (value) =>
  value > 0 && value <= 100 ? null : `expects a number in (0, 100], got ${value}`;

/** "a, b or c": how a short list of choices reads in a sentence. */
export function orList(choices: readonly string[]): string {
  return choices.length < 2 ? choices.join('') : `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}`;
}

/**
 * One of `choices`; `described` is how the message lists them, by default "one of a, b, c".
 */
export function choice(choices: readonly string[], described = `one of ${choices.join(', ')}`): Validator<string> {
  return (value) => (choices.includes(value) ? null : `expects ${described}, got '${value}'`);
}

/** A folder on the device: absolute, since `~` and relative paths would be read on this machine's terms. */
export const absoluteDevicePath: Validator<string> = (value) =>
  value.startsWith('/') ? null : `expects an absolute path on the device, got '${value}'`;

/** A release id as `effnet-edge status` lists it. */
export const releaseId: Validator<string> = (value) =>
  /^[A-Za-z0-9._-]+$/.test(value) ? null : `expects a release id as effnet-edge status lists it, got '${value}'`;
