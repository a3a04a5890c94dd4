/** `effnet-edge bench`: latency percentiles and throughput of a bundle on every runtime that can run it here, side by side. */
import { goldenSetFrom } from '../../device/regression.js';
import { manifestFromBundle, type BundleManifest } from '../../bundle/manifest.js';
import { UsageError } from '../../errors.js';
import { bundleRunner, resolvedRuntime } from '../../device/bundleRunner.js';
import type { Runner } from '../../runtime/runner.js';
import type { Command } from '../command.js';
import { MAX_THREADS, boundedInteger, flag, stringOption } from '../command.js';
import { JSON_GROUP } from '../groups.js';
import { formatTable } from '../table.js';

export interface LatencyStats {
  model: string;
  batch: number;
  runs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  imagesPerSecond: number;
}

/** Nearest-rank percentile of ascending `sorted`. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface BenchEntry {
  name: string;
  model: string;
  open: () => Promise<Runner>;
}

/** Every runtime × model this machine can run for the bundle: ONNX Runtime always, TensorRT and the native int8 engine where they load. */
function entriesFor(options: { bundle: string; manifest: BundleManifest; threads: number | undefined; onNotice: (m: string) => void }): BenchEntry[] {
  const { bundle, manifest, threads, onNotice } = options;
  const common = { bundle, manifest, onNotice, ...(threads ? { threads } : {}) };
  const entries: BenchEntry[] = [
    { name: 'ort-fp32', model: 'model.fp32.onnx', open: () => bundleRunner({ ...common, model: 'fp32', runtime: 'onnxruntime' }) },
  ];
  if (manifest.files['model.int8.onnx']) {
    entries.push({ name: 'ort-int8', model: 'model.int8.onnx', open: () => bundleRunner({ ...common, model: 'int8', runtime: 'onnxruntime' }) });
  }
  // The engine `run` would use for the int8 model here; when it is not there, say why it is left out.
  const { runtime, fallbackReason } = resolvedRuntime({ manifest, runtime: 'auto', model: 'int8' });
  if (runtime === 'native-int8') {
    entries.push({ name: 'native-int8', model: 'model.int8.onnx', open: () => bundleRunner({ ...common, model: 'int8', runtime: 'native-int8' }) });
  } else if (runtime === 'tensorrt') {
    entries.push({ name: `tensorrt-${manifest.engine.precision}`, model: manifest.engine.onnx, open: () => bundleRunner({ ...common, model: 'int8', runtime: 'tensorrt' }) });
  } else if (fallbackReason !== null) {
    onNotice(`${fallbackReason}; ${manifest.target.runtime === 'tensorrt' ? 'TensorRT' : 'native-int8'} is left out of this benchmark`);
  }
  return entries;
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'Latency (p50/p90/p99) and throughput of a bundle on each runtime here: ONNX Runtime fp32/int8, the native int8 engine, TensorRT on a Jetson.',
  usage: 'effnet-edge bench --bundle DIR [--batch N] [--runs N] [--warmup N] [--threads N] [--runtimes LIST] [--json]',
  examples: ['effnet-edge bench --bundle dist/demo-cifar10-b0-cpu-x86_64 --batch 8', 'effnet-edge bench --bundle releases/current --runtimes tensorrt-int8 --json'],
  groups: [
    {
      options: { bundle: { type: 'string' }, batch: { type: 'string' }, runs: { type: 'string' }, warmup: { type: 'string' }, threads: { type: 'string' }, runtimes: { type: 'string' } },
      help: [
        '  --bundle DIR            a folder written by effnet-edge build',
        '  --batch N               images per inference (default 1)',
        '  --runs N                timed runs per runtime (default 50), interleaved',
        '  --warmup N              untimed runs first (default 5)',
        '  --threads N             CPU threads for ONNX Runtime and the native int8 engine (default: ONNX Runtime\'s choice; every core for native-int8)',
        '  --runtimes LIST         comma-separated subset of ort-fp32, ort-int8, native-int8, tensorrt-<precision> (default: all that run here)',
      ],
    },
    JSON_GROUP,
  ],
  async run(args, io) {
    const bundle = stringOption(args, 'bundle');
    if (!bundle) throw new UsageError('--bundle DIR is required');
    // Every count bounded: an absurd one (--threads 5000) would hang the machine, not measure it.
    const batch = boundedInteger(args, 'batch', { min: 1, max: 1024 }) ?? 1;
    const runs = boundedInteger(args, 'runs', { min: 1, max: 100_000 }) ?? 50;
    const warmup = boundedInteger(args, 'warmup', { min: 0, max: 10_000 }) ?? 5;
    const threads = boundedInteger(args, 'threads', { min: 1, max: MAX_THREADS });
    const manifest = await manifestFromBundle(bundle);
    let entries = entriesFor({ bundle, manifest, threads, onNotice: (message) => io.stderr(`effnet-edge bench: ${message}\n`) });
    const wanted = stringOption(args, 'runtimes')?.split(',').map((s) => s.trim());
    if (wanted) {
      const unknown = wanted.filter((w) => !entries.some((e) => e.name === w));
      if (unknown.length > 0) throw new UsageError(`--runtimes: ${unknown.join(', ')} cannot run here; available: ${entries.map((e) => e.name).join(', ')}`);
      entries = entries.filter((e) => wanted.includes(e.name));
    }
    const { inputs } = await goldenSetFrom({ bundle, manifest });
    const size = 3 * manifest.inputSize * manifest.inputSize;
    // Real images from the golden set, repeated to fill the batch.
    const input = Float32Array.from({ length: batch * size }, (_, i) => inputs[i % inputs.length]!);
    const dims = [batch, 3, manifest.inputSize, manifest.inputSize];
    const runners: Runner[] = [];
    const times = entries.map(() => [] as number[]);
    try {
      for (const entry of entries) runners.push(await entry.open());
      for (let r = 0; r < warmup + runs; r++) {
        for (const [i, runner] of runners.entries()) {
          const start = performance.now();
          await runner.run(input, dims);
          if (r >= warmup) times[i]!.push(performance.now() - start);
        }
      }
    } finally {
      await Promise.all(runners.map((r) => r.close()));
    }
    const stats = Object.fromEntries(entries.map((entry, i): [string, LatencyStats] => {
      const sorted = [...times[i]!].sort((a, b) => a - b);
      const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
      return [entry.name, { model: entry.model, batch, runs, p50Ms: percentile(sorted, 50), p90Ms: percentile(sorted, 90), p99Ms: percentile(sorted, 99), imagesPerSecond: (1000 * batch) / mean }];
    }));
    if (flag(args, 'json')) {
      io.stdout(JSON.stringify({ bundle, batch, runs, runtimes: stats }, null, 2) + '\n');
      return 0;
    }
    const baseline = stats['ort-fp32'];
    io.stdout(formatTable(
      [{ header: 'runtime' }, { header: 'model' }, { header: 'batch', align: 'right' }, { header: 'p50 ms', align: 'right' }, { header: 'p90 ms', align: 'right' }, { header: 'p99 ms', align: 'right' }, { header: 'img/s', align: 'right' }, { header: 'p50 vs ort-fp32', align: 'right' }],
      Object.entries(stats).map(([name, s]) => [name, s.model, s.batch, s.p50Ms.toFixed(2), s.p90Ms.toFixed(2), s.p99Ms.toFixed(2), s.imagesPerSecond.toFixed(1), baseline ? `${(s.p50Ms / baseline.p50Ms).toFixed(2)}×` : '-']),
    ));
    if (stats['ort-int8']) io.stdout('ONNX Runtime\'s int8 graph simulates the engine\'s accuracy; on x86 it is not a fast path\n');
    return 0;
  },
};
