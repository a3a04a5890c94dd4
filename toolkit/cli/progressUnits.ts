/**
 * How progress counts read: items as integers with their unit, bytes in MB (10^6 bytes, as file managers and
 * `ls -h --si` count) from 1 MB up and as bytes below, rates in the same units per second, ETAs in s, m and h.
 */
export type ProgressUnit = 'img' | 'tensor' | 'layer' | 'candidate' | 'round' | 'step' | 'B';

const MB = 1e6;

/** `30/115 tensor`, `12.3/20.1 MB`, `13746/500000 B`. */
export function countText(options: { done: number; total: number; unit: ProgressUnit }): string {
  const { done, total, unit } = options;
  if (unit === 'B' && total >= MB) return `${(done / MB).toFixed(1)}/${(total / MB).toFixed(1)} MB`;
  return `${done}/${total} ${unit}`;
}

/** `12 tensor/s`, `2.5 img/s`, `4.2 MB/s`, `13755 B/s`. */
export function rateText(options: { rate: number; unit: ProgressUnit }): string {
  const { rate, unit } = options;
  if (unit === 'B') return rate >= MB ? `${(rate / MB).toFixed(1)} MB/s` : `${Math.round(rate)} B/s`;
  return `${rate.toFixed(rate < 10 ? 1 : 0)} ${unit}/s`;
}

/** `7s`, `25m 31s`, `2h 05m`: rounded up, so the last second reads 1s, not 0s. */
export function etaText(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
