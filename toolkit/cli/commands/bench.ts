/**
 * `effnet-edge bench`: latency percentiles and throughput of a bundle on every runtime that can run it here, side by
 * side; on a Jetson also the board's power and millijoules per image, elsewhere why there is none.
 */
import { manifestFromBundle } from '../../bundle/manifest.js';
import { benchEntriesFor, benchmarked, type LatencyStats } from '../../device/bench.js';
import { powerStatus } from '../../device/benchEnergy.js';
import { startTegrastats, TEGRASTATS_INTERVAL_MS } from '../../device/tegrastatsSampler.js';
import { UsageError } from '../../errors.js';
import type { Command, OptionGroup } from '../command.js';
import { MAX_THREADS, flag, listOption, numberOption, requiredString, numberOrDefault } from '../command.js';
import { BUNDLE_OPTION, JSON_GROUP } from '../sharedOptions.js';
import { formatTable } from '../table.js';
import { progressBar } from '../progress.js';
import { integerFrom } from '../validators.js';

// Every count bounded: an absurd one (--threads 5000) would hang the machine, not measure it.
const BENCH_GROUP: OptionGroup = [
  BUNDLE_OPTION,
  {
    name: 'batch',
    type: 'integer',
    placeholder: 'N',
    default: 1,
    help: 'images per inference (default {default})',
    validate: integerFrom({ min: 1, max: 1024 }),
  },
  {
    name: 'runs',
    type: 'integer',
    placeholder: 'N',
    default: 50,
    help: 'timed runs per runtime (default {default}), interleaved',
    validate: integerFrom({ min: 1, max: 100_000 }),
  },
  {
    name: 'warmup',
    type: 'integer',
    placeholder: 'N',
    default: 5,
    help: 'untimed runs first (default {default})',
    validate: integerFrom({ min: 0, max: 10_000 }),
  },
  {
    name: 'threads',
    type: 'integer',
    placeholder: 'N',
    help: "CPU threads for ONNX Runtime and the native int8 engine (default: ONNX Runtime's choice; every core for native-int8)",
    validate: integerFrom({ min: 1, max: MAX_THREADS }),
  },
  {
    name: 'runtimes',
    type: 'list',
    placeholder: 'LIST',
    help: 'comma-separated subset of ort-fp32, ort-qdq, ort-int8, native-int8, tensorrt-<precision> (default: all that run here)',
  },
];

const ENERGY_COLUMNS = [
  { header: 'W', align: 'right' as const },
  { header: 'mJ/img', align: 'right' as const },
];

function energyCells(stats: LatencyStats): string[] {
  const energy = stats.energy;
  return energy?.measured ? [energy.meanWatts.toFixed(2), energy.millijoulesPerImage.toFixed(1)] : ['-', '-'];
}

export const benchCommand: Command = {
  name: 'bench',
  summary:
    'Latency (p50/p90/p99) and throughput of a bundle on each runtime here: ONNX Runtime fp32, Q/DQ and QOperator int8, the native int8 engine, TensorRT on a Jetson; there also power (tegrastats) and mJ per image.',
  usage: 'effnet-edge bench --bundle DIR [--batch N] [--runs N] [--warmup N] [--threads N] [--runtimes LIST] [--json]',
  examples: [
    'effnet-edge bench --bundle dist/demo-cifar10-b0-cpu-x86_64 --batch 8',
    'effnet-edge bench --bundle releases/current --runtimes tensorrt-int8 --json',
  ],
  groups: [BENCH_GROUP, JSON_GROUP],
  async run(args, io) {
    const bundle = requiredString(args, 'bundle');
    const batch = numberOrDefault(args, 'batch');
    const runs = numberOrDefault(args, 'runs');
    const warmup = numberOrDefault(args, 'warmup');
    const threads = numberOption(args, 'threads');
    const manifest = await manifestFromBundle(bundle);
    let entries = benchEntriesFor({
      bundle,
      manifest,
      threads,
      onNotice: (message) => io.stderr(`effnet-edge bench: ${message}\n`),
    });
    const wanted = listOption(args, 'runtimes');
    if (wanted) {
      const unknown = wanted.filter((w) => !entries.some((e) => e.name === w));
      if (unknown.length > 0)
        throw new UsageError(
          `--runtimes: ${unknown.join(', ')} cannot run here; available: ${entries.map((e) => e.name).join(', ')}`,
        );
      entries = entries.filter((e) => wanted.includes(e.name));
    }
    // On a Jetson, tegrastats samples the board's power for the whole run; it is stopped whatever happens.
    const sampler = await startTegrastats({ intervalMs: TEGRASTATS_INTERVAL_MS });
    const power = 'samples' in sampler ? sampler : undefined;
    let stats: Record<string, LatencyStats>;
    // A round runs every runtime once; the bar clears itself before the table.
    const bar = progressBar({ label: 'benchmarking', unit: 'round', enabled: !flag(args, 'json') });
    try {
      const onProgress = (done: number, total: number) => bar.update(done, total);
      stats = await benchmarked({
        bundle,
        manifest,
        entries,
        batch,
        runs,
        warmup,
        onProgress,
        ...(power ? { power } : {}),
      });
    } finally {
      bar.done();
      await power?.stop();
    }
    const { line, ...status } = powerStatus({
      energies: Object.values(stats).map((s) => s.energy),
      notStarted: 'reason' in sampler ? sampler.reason : null,
      intervalMs: TEGRASTATS_INTERVAL_MS,
    });
    if (flag(args, 'json')) {
      io.stdout(`${JSON.stringify({ bundle, batch, runs, power: status, runtimes: stats }, null, 2)}\n`);
      return 0;
    }
    const baseline = stats['ort-fp32'];
    io.stdout(
      formatTable(
        [
          { header: 'runtime' },
          { header: 'model' },
          { header: 'batch', align: 'right' },
          { header: 'p50 ms', align: 'right' },
          { header: 'p90 ms', align: 'right' },
          { header: 'p99 ms', align: 'right' },
          { header: 'img/s', align: 'right' },
          { header: 'p50 vs ort-fp32', align: 'right' },
          ...(status.measured ? ENERGY_COLUMNS : []),
        ],
        Object.entries(stats).map(([name, s]) => [
          name,
          s.model,
          s.batch,
          s.p50Ms.toFixed(2),
          s.p90Ms.toFixed(2),
          s.p99Ms.toFixed(2),
          s.imagesPerSecond.toFixed(1),
          baseline ? `${(s.p50Ms / baseline.p50Ms).toFixed(2)}×` : '-',
          ...(status.measured ? energyCells(s) : []),
        ]),
      ),
    );
    io.stdout(`${line}\n`);
    if (stats['ort-qdq'])
      io.stdout(
        "ort-qdq runs the Q/DQ graph, the accuracy reference (ONNX Runtime runs most of it in float); ort-int8 is ONNX Runtime's int8 path\n",
      );
    return 0;
  },
};
