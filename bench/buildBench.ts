/**
 * The full-build benchmark (issue 19; alone: `node dist/bench/run.js build [b0 b3 b7]`): the CLI's `build` of each
 * variant at its native size, default settings, in a fresh process per variant (quantBench.js build), so the peak RSS
 * is that build's. Writes bench/results/build-<variant>.json and prints wall time, peak RSS and the stage times.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatTable } from '../toolkit/cli/table.js';

/** Calibration and evaluation images per variant, and the goal: B0 in 3 minutes, B7 in 30 and under 8 GiB. */
export const BUILD_RUNS: Readonly<Record<string, { calib: number; eval: number; goalSeconds: number }>> = {
  b0: { calib: 512, eval: 128, goalSeconds: 180 },
  b3: { calib: 512, eval: 128, goalSeconds: Infinity },
  b7: { calib: 128, eval: 32, goalSeconds: 1800 },
};
const GOAL_RSS_MIB = 8192;

interface BuildBenchResult {
  variant: string;
  seconds: number;
  peakRssMiB: number;
  searchImages: number;
  searchRan: boolean;
  stages: Record<string, number>;
}

export function runBuildBench(options: {
  here: string;
  resultsDir: string;
  machine: Record<string, unknown>;
  variants: readonly string[];
}): void {
  for (const variant of options.variants) {
    const run = BUILD_RUNS[variant];
    if (!run)
      throw new Error(`no build benchmark for '${variant}': expected one of ${Object.keys(BUILD_RUNS).join(', ')}`);
    const child = (args: string[]) =>
      execFileSync(process.execPath, [join(options.here, 'quantBench.js'), ...args], {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      });
    const lastJson = (out: string) => JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>;
    // The seed's own init gives near-zero logits, so the build's choices would run on noise (benchWeights.ts).
    const model = lastJson(child(['model', variant])).path as string;
    const out = child(['build', variant, String(run.calib), String(run.eval), model]);
    const result = lastJson(out) as unknown as BuildBenchResult;
    const file = join(options.resultsDir, `build-${variant}.json`);
    writeFileSync(file, `${JSON.stringify({ machine: options.machine, ...result }, null, 2)}\n`);
    const met = result.seconds <= run.goalSeconds && result.peakRssMiB < GOAL_RSS_MIB;
    const search = result.searchImages
      ? `range search applied, ${result.searchImages} images`
      : result.searchRan
        ? 'range search ran, not applied'
        : 'no range search';
    process.stdout.write(
      `\n${variant} build, ${run.calib} calibration images (${search}): ${result.seconds.toFixed(0)} s, ` +
        `peak RSS ${result.peakRssMiB.toFixed(0)} MiB (${met ? 'goal met' : 'goal NOT met'}). Results: ${file}\n`,
    );
    const rows = Object.entries(result.stages).map(([stage, s]) => [stage, s.toFixed(1)]);
    process.stdout.write(formatTable([{ header: 'Stage' }, { header: 's', align: 'right' }], rows));
  }
}
