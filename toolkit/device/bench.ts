/**
 * The benchmark loop for a built bundle: every runtime this machine can run it on, timed side by side with real
 * golden-set images, runs interleaved so that the machine's noise falls on all of them alike.
 */
import type { BundleManifest } from '../bundle/manifest.js';
import type { Runner } from '../runtime/runner.js';
import { type Energy, energyPerImage } from './benchEnergy.js';
import { bundleRunner, ORT_INT8_FILE, resolvedRuntime } from './bundleRunner.js';
import { goldenSetFrom } from './regression.js';
import type { TegrastatsSampler } from './tegrastatsSampler.js';

export interface LatencyStats {
  model: string;
  batch: number;
  runs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  imagesPerSecond: number;
  /** Present when bench ran with tegrastats sampling (a Jetson). */
  energy?: Energy;
}

/** Nearest-rank percentile of ascending `sorted`. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface BenchEntry {
  name: string;
  model: string;
  open: () => Promise<Runner>;
}

/**
 * Every runtime × model this machine can run for the bundle: ONNX Runtime always (fp32; the Q/DQ graph as ort-qdq;
 * the QOperator graph as ort-int8), TensorRT and the native int8 engine where they load.
 */
export function benchEntriesFor(options: {
  bundle: string;
  manifest: BundleManifest;
  threads: number | undefined;
  onNotice: (m: string) => void;
}): BenchEntry[] {
  const { bundle, manifest, threads, onNotice } = options;
  const common = { bundle, manifest, onNotice, ...(threads ? { threads } : {}) };
  const entries: BenchEntry[] = [
    {
      name: 'ort-fp32',
      model: 'model.fp32.onnx',
      open: () => bundleRunner({ ...common, model: 'fp32', runtime: 'onnxruntime' }),
    },
  ];
  if (manifest.files['model.int8.onnx']) {
    // The Q/DQ graph: the accuracy reference, which ONNX Runtime runs mostly in float on x86.
    entries.push({
      name: 'ort-qdq',
      model: 'model.int8.onnx',
      open: () => bundleRunner({ ...common, model: 'int8', runtime: 'onnxruntime' }),
    });
  }
  if (manifest.files[ORT_INT8_FILE]) {
    entries.push({
      name: 'ort-int8',
      model: ORT_INT8_FILE,
      open: () => bundleRunner({ ...common, model: 'int8', runtime: 'ort-int8' }),
    });
  }
  // The engine `run` would use for the int8 model here; when it is not there, say why it is left out.
  const { runtime, fallbackReason } = resolvedRuntime({ manifest, runtime: 'auto', model: 'int8' });
  if (runtime === 'native-int8') {
    entries.push({
      name: 'native-int8',
      model: 'model.int8.onnx',
      open: () => bundleRunner({ ...common, model: 'int8', runtime: 'native-int8' }),
    });
  } else if (runtime === 'tensorrt') {
    entries.push({
      name: `tensorrt-${manifest.engine.precision}`,
      model: manifest.engine.onnx,
      open: () => bundleRunner({ ...common, model: 'int8', runtime: 'tensorrt' }),
    });
  } else if (fallbackReason !== null) {
    onNotice(
      `${fallbackReason}; ${manifest.target.runtime === 'tensorrt' ? 'TensorRT' : 'native-int8'} is left out of this benchmark`,
    );
  }
  return entries;
}

/**
 * Times `entries` on `batch` golden images: `warmup` untimed rounds, then `runs` timed ones, each round every runtime
 * once. With a `power` sampler, each runtime then runs alone for its energy per image.
 */
export async function benchmarked(options: {
  bundle: string;
  manifest: BundleManifest;
  entries: readonly BenchEntry[];
  batch: number;
  runs: number;
  warmup: number;
  power?: TegrastatsSampler;
  /** Rounds done (warm-up and timed) of all of them, after each one. */
  onProgress?: (done: number, total: number) => void;
}): Promise<Record<string, LatencyStats>> {
  const { bundle, manifest, entries, batch, runs, warmup, power } = options;
  const { inputs } = await goldenSetFrom({ bundle, manifest });
  const size = 3 * manifest.inputSize * manifest.inputSize;
  // Real images from the golden set, repeated to fill the batch.
  const input = Float32Array.from({ length: batch * size }, (_, i) => inputs[i % inputs.length]!);
  const dims = [batch, 3, manifest.inputSize, manifest.inputSize];
  const runners: Runner[] = [];
  const times = entries.map(() => [] as number[]);
  const energies: Energy[] = [];
  try {
    for (const entry of entries) runners.push(await entry.open());
    for (let r = 0; r < warmup + runs; r++) {
      for (const [i, runner] of runners.entries()) {
        const start = performance.now();
        await runner.run(input, dims);
        if (r >= warmup) times[i]!.push(performance.now() - start);
      }
      options.onProgress?.(r + 1, warmup + runs);
    }
    for (const runner of power ? runners : []) {
      energies.push(await energyPerImage({ runner, input, dims, minRuns: runs, sampler: power! }));
    }
  } finally {
    await Promise.all(runners.map((r) => r.close()));
  }
  const stats = Object.fromEntries(
    entries.map((entry, i): [string, LatencyStats] => {
      const sorted = [...times[i]!].sort((a, b) => a - b);
      const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
      return [
        entry.name,
        {
          model: entry.model,
          batch,
          runs,
          p50Ms: percentile(sorted, 50),
          p90Ms: percentile(sorted, 90),
          p99Ms: percentile(sorted, 99),
          imagesPerSecond: (1000 * batch) / mean,
          ...(energies[i] ? { energy: energies[i] } : {}),
        },
      ];
    }),
  );
  return stats;
}
