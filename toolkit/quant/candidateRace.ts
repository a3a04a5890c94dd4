/**
 * Racing the calibrator candidates (as hyper-parameter searches race configurations): every candidate is scored on
 * the first images, and one that is behind the leader there beyond the noise (the 95 % paired-bootstrap interval of
 * its per-image cosine difference wholly below zero) stops; only the others are scored on the rest. The leader, the
 * default calibrator and the best percentile always run on, so every comparison the choice makes afterwards (the
 * best against the default on the check images, another method against the best percentile) is made on all images.
 * On B0 at 224 with 256 selection images 6 of the 8 candidates stopped after 64.
 */
import type { Logits } from '../eval/metrics.js';
import { cosineDifference, type CosineDifference } from './checked.js';

/** Images every candidate is scored on before the race may stop one. */
export const RACE_FIRST_IMAGES = 64;

export interface RaceEntry {
  /** Mean of perImage. */
  cosine: number;
  perImage: Float64Array;
  collapsed: boolean;
  /** Runs on whatever its score (the default calibrator, the best percentile). */
  keep: boolean;
}

export interface RaceCut {
  /** Index of the leader in the entries. */
  leader: number;
  /** Indices of the entries that run on, in order. */
  survivors: number[];
  /** The entries that stop, with their difference to the leader (entry − leader). */
  stopped: { index: number; difference: CosineDifference }[];
}

/** Which entries stop after the first images: the leader is the best that has not collapsed (else the best). */
export function raceCut(entries: readonly RaceEntry[]): RaceCut {
  const best = (candidates: number[]) =>
    candidates.reduce((a, b) => (entries[b]!.cosine > entries[a]!.cosine ? b : a), candidates[0]!);
  const all = entries.map((_, i) => i);
  const standing = all.filter((i) => !entries[i]!.collapsed);
  const leader = best(standing.length > 0 ? standing : all);
  const survivors: number[] = [];
  const stopped: RaceCut['stopped'] = [];
  for (const index of all) {
    const entry = entries[index]!;
    const difference =
      index === leader
        ? null
        : cosineDifference(
            { cosine: entries[leader]!.cosine, agreement: 0, images: 0, perImage: entries[leader]!.perImage },
            { cosine: entry.cosine, agreement: 0, images: 0, perImage: entry.perImage },
          );
    if (difference && !entry.keep && difference.high < 0) stopped.push({ index, difference });
    else survivors.push(index);
  }
  return { leader, survivors, stopped };
}

/** Logits rows [from, to). */
export function logitRows(logits: Logits, from: number, to: number): Logits {
  return { data: logits.data.subarray(from * logits.classes, to * logits.classes), classes: logits.classes };
}

/** Two runs' logits, the first's rows then the second's. */
export function logitsJoined(first: Logits, second: Logits): Logits {
  const data = new Float32Array(first.data.length + second.data.length);
  data.set(first.data);
  data.set(second.data, first.data.length);
  return { data, classes: first.classes };
}
