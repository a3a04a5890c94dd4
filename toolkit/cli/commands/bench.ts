/** `effnet-edge bench`: latency percentiles and throughput of a bundle's fp32 and int8 models, side by side. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { floatsFromBytes, type GoldenIndex } from '../../bundle/golden.js';
import { manifestFromBundle } from '../../bundle/manifest.js';
import { UsageError } from '../../errors.js';
import { modelFromFile } from '../../onnx/read.js';
import { OrtRunner } from '../../runtime/ort.js';
import type { Command } from '../command.js';
import { flag, numberOption, stringOption } from '../command.js';
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

export const benchCommand: Command = {
  name: 'bench',
  summary: 'Latency (p50/p90/p99) and throughput of a bundle\'s fp32 and int8 models through ONNX Runtime.',
  usage: 'effnet-edge bench --bundle DIR [--batch N] [--runs N] [--warmup N] [--threads N] [--json]',
  examples: ['effnet-edge bench --bundle dist/demo-cifar10-b0-cpu-x86_64 --batch 8'],
  groups: [
    {
      options: { bundle: { type: 'string' }, batch: { type: 'string' }, runs: { type: 'string' }, warmup: { type: 'string' }, threads: { type: 'string' } },
      help: [
        '  --bundle DIR            a folder written by effnet-edge build',
        '  --batch N               images per inference (default 1)',
        '  --runs N                timed runs per model (default 50), interleaved fp32/int8',
        '  --warmup N              untimed runs first (default 5)',
        '  --threads N             ONNX Runtime intra-op threads (default: its choice)',
      ],
    },
    JSON_GROUP,
  ],
  async run(args, io) {
    const bundle = stringOption(args, 'bundle');
    if (!bundle) throw new UsageError('--bundle DIR is required');
    const batch = numberOption(args, 'batch', 'integer') ?? 1;
    const runs = numberOption(args, 'runs', 'integer') ?? 50;
    const warmup = numberOption(args, 'warmup', 'integer') ?? 5;
    const threads = numberOption(args, 'threads', 'integer');
    for (const [name, value, min] of [['batch', batch, 1], ['runs', runs, 1], ['warmup', warmup, 0]] as const) {
      if (value < min) throw new UsageError(`--${name} expects an integer ≥ ${min}, got ${value}`);
    }
    const manifest = await manifestFromBundle(bundle);
    const golden = JSON.parse(await readFile(join(bundle, manifest.golden.index), 'utf8')) as GoldenIndex;
    const inputs = floatsFromBytes(await readFile(join(bundle, golden.files.inputs)));
    const size = 3 * manifest.inputSize * manifest.inputSize;
    // Real images from the golden set, repeated to fill the batch.
    const input = Float32Array.from({ length: batch * size }, (_, i) => inputs[i % inputs.length]!);
    const dims = [batch, 3, manifest.inputSize, manifest.inputSize];
    const files = ['model.fp32.onnx', 'model.int8.onnx'].filter((f) => manifest.files[f]);
    const runners = await Promise.all(files.map(async (f) => OrtRunner.create({ model: await modelFromFile({ path: join(bundle, f) }), ...(threads ? { threads } : {}) })));
    const times = files.map(() => [] as number[]);
    try {
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
    const stats: LatencyStats[] = files.map((model, i) => {
      const sorted = [...times[i]!].sort((a, b) => a - b);
      const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
      return { model, batch, runs, p50Ms: percentile(sorted, 50), p90Ms: percentile(sorted, 90), p99Ms: percentile(sorted, 99), imagesPerSecond: (1000 * batch) / mean };
    });
    if (flag(args, 'json')) {
      io.stdout(JSON.stringify({ bundle, runtime: 'onnxruntime', stats }, null, 2) + '\n');
      return 0;
    }
    io.stdout(formatTable(
      [{ header: 'model' }, { header: 'batch', align: 'right' }, { header: 'p50 ms', align: 'right' }, { header: 'p90 ms', align: 'right' }, { header: 'p99 ms', align: 'right' }, { header: 'img/s', align: 'right' }],
      stats.map((s) => [s.model, s.batch, s.p50Ms.toFixed(2), s.p90Ms.toFixed(2), s.p99Ms.toFixed(2), s.imagesPerSecond.toFixed(1)]),
    ));
    if (stats.length === 2) io.stdout(`int8 / fp32 p50: ${(stats[1]!.p50Ms / stats[0]!.p50Ms).toFixed(2)}× (ONNX Runtime's int8 path simulates accuracy; it is not the fast path on x86)\n`);
    return 0;
  },
};
