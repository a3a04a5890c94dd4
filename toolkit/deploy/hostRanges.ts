/** Ansible's host ranges in inventory host names: `jetson[01:03]` is jetson01, jetson02, jetson03. */
const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * Ansible's host ranges: `[01:03]` (a leading zero on begin pads to its width), `[a:c]` (single letters, in the
 * order a..zA..Z), an optional step `[1:10:2]`, an empty begin meaning 0; several ranges multiply out.
 */
export function expandRanges(name: string, fail: (problem: string) => never): string[] {
  const hosts = rangeHostCount(name);
  if (hosts > MAX_RANGE_HOSTS)
    fail(
      `expands to ${hosts} hosts; effnet-edge takes at most ${MAX_RANGE_HOSTS} from one line (split the fleet into groups)`,
    );
  const match = /^([^[]*)\[([^\]]*)\](.*)$/.exec(name);
  if (!match) return [name];
  const [, head, range, tail] = match as unknown as [string, string, string, string];
  const bounds = range.split(':');
  const [begin = '', end = '', step = '1'] = bounds;
  const where = `range [${range}]`;
  if (bounds.length < 2 || bounds.length > 3 || end === '') fail(`${where}: expected [begin:end] or [begin:end:step]`);
  if (!/^[1-9]\d*$/.test(step)) fail(`${where}: step must be a whole number 1 or more`);
  let items: string[];
  if (LETTERS.includes(begin) && begin.length === 1 && LETTERS.includes(end) && end.length === 1) {
    items = [...LETTERS.slice(LETTERS.indexOf(begin), LETTERS.indexOf(end) + 1)];
    if (items.length === 0) fail(`${where}: begin must not come after end`);
  } else if (/^\d*$/.test(begin) && /^\d+$/.test(end)) {
    const width = begin.length > 1 && begin.startsWith('0') ? begin.length : 0;
    if (width && end.length !== width)
      fail(`${where}: begin and end must have the same number of digits when begin has a leading zero`);
    const [first, last] = [Number(begin || '0'), Number(end)];
    if (first > last) fail(`${where}: begin must not come after end`);
    items = Array.from({ length: last - first + 1 }, (_, i) => String(first + i).padStart(width, '0'));
  } else {
    fail(`${where}: begin and end must both be numbers or both single letters`);
  }
  return items.filter((_, i) => i % Number(step) === 0).flatMap((item) => expandRanges(head + item + tail, fail));
}

/** More hosts than any fleet effnet-edge deploys to, far fewer than would exhaust memory. */
export const MAX_RANGE_HOSTS = 10_000;

/** How many hosts a name's ranges give (their product), counted without expanding them; malformed ranges count 1. */
function rangeHostCount(name: string): number {
  let count = 1;
  for (const [, range] of name.matchAll(/\[([^\]]*)\]/g)) {
    const [begin = '', end = '', step = '1'] = range!.split(':');
    const span =
      /^\d*$/.test(begin) && /^\d+$/.test(end)
        ? Number(end) - Number(begin || '0') + 1
        : begin.length === 1 && end.length === 1
          ? LETTERS.indexOf(end) - LETTERS.indexOf(begin) + 1
          : 1;
    count *= Math.max(1, Math.ceil(span / Math.max(1, Number(step) || 1)));
  }
  return count;
}
