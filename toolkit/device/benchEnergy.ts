/**
 * Energy per image on a Jetson: each runtime runs alone for a stretch while tegrastats samples the board's input
 * power, since the interleaved latency rounds mix every runtime's draw into the same seconds.
 */
import type { Runner } from '../runtime/runner.js';
import type { InputBasis } from './tegrastats.js';
import { type TegrastatsSampler, windowPower } from './tegrastatsSampler.js';

/** Long enough for about ten tegrastats readings at its 100 ms interval. */
export const ENERGY_MIN_MS = 1000;

export type Energy =
  | {
      measured: true;
      basis: InputBasis;
      rails: string[];
      meanWatts: number;
      /** mean W × the stretch's wall time / the images run in it, in millijoules. */
      millijoulesPerImage: number;
      samples: number;
      seconds: number;
      images: number;
    }
  | { measured: false; reason: string };

/** Runs `runner` back to back for at least `minRuns` runs and ENERGY_MIN_MS, and prices each image in millijoules. */
export async function energyPerImage(options: {
  runner: Runner;
  input: Float32Array;
  dims: readonly number[];
  minRuns: number;
  sampler: TegrastatsSampler;
}): Promise<Energy> {
  const { runner, input, dims, minRuns, sampler } = options;
  const batch = dims[0]!;
  const startMs = performance.now();
  let images = 0;
  for (let run = 0; run < minRuns || performance.now() - startMs < ENERGY_MIN_MS; run++) {
    await runner.run(input, dims);
    images += batch;
  }
  const endMs = performance.now();
  const power = windowPower({ samples: sampler.samples, startMs, endMs });
  if (!power.measured) return power;
  const seconds = (endMs - startMs) / 1000;
  const { basis, rails, meanWatts, samples } = power;
  const millijoulesPerImage = (1000 * meanWatts * seconds) / images;
  return { measured: true, basis, rails, meanWatts, millijoulesPerImage, samples, seconds, images };
}

export type PowerStatus =
  | { measured: true; basis: InputBasis; rails: string[]; intervalMs: number; line: string }
  | { measured: false; reason: string; line: string };

const BASIS_WORDS: Record<InputBasis, string> = {
  VDD_IN: "VDD_IN, the module's input (CPU, GPU, SoC, memory and the module's own regulators; not the carrier board)",
  POM_5V_IN:
    "POM_5V_IN, the module's 5 V input (CPU, GPU, SoC, memory and the module's regulators; not the carrier board)",
  'sum of module rails': 'the sum of the module rails',
};

/**
 * What bench says about power: how it was measured, or exactly why it was not (`notStarted`: tegrastats did not
 * run; else the first runtime's reason when none was measured).
 */
export function powerStatus(options: {
  energies: readonly (Energy | undefined)[];
  notStarted: string | null;
  intervalMs: number;
}): PowerStatus {
  const { energies, notStarted, intervalMs } = options;
  const measured = energies.find((e) => e?.measured === true);
  if (notStarted === null && measured?.measured) {
    const { basis, rails } = measured;
    const words =
      basis === 'sum of module rails'
        ? `${BASIS_WORDS[basis]} ${rails.join(' + ')} (this board has no input monitor; their regulators' losses are not in it)`
        : BASIS_WORDS[basis];
    const line = `power: ${words}, read by tegrastats every ${intervalMs} ms while each runtime ran alone for at least ${ENERGY_MIN_MS / 1000} s`;
    return { measured: true, basis, rails, intervalMs, line };
  }
  const firstReason = energies.find((e) => e?.measured === false);
  const reason =
    notStarted ?? (firstReason?.measured === false ? firstReason.reason : 'tegrastats gave no power reading');
  return { measured: false, reason, line: `power: not measured (${reason})` };
}
