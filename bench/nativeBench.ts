/**
 * Benchmark child (run by bench/run.ts): the native int8 engine against ONNX Runtime on B0@224 with seeded weights
 * (fp32; `ort-int8`, the QOperator graph CPU bundles ship as model.ort-int8.onnx; `ort-qdq`, the Q/DQ graph), all measured interleaved in this one process: batch 1 and 8 on one thread, and the engine on
 * two threads (batch 1 layer by layer, batch 8 one image per thread), and every other SIMD path this CPU runs. Each
 * round runs every runtime in a short burst (one untimed run, then the timed ones), so that each is timed in its
 * steady state (its weights in cache, its threads awake), as in a serving loop, while the rounds' interleaving still
 * exposes all of them to the same machine noise. Also the engine's per-block time breakdown, its int8 GOPS against
 * the machine's peak, and by kernel class what limits each (kernelMetrics.ts).
 * Ranges are fixed (speed does not depend on them); the Q/DQ model is the onnxruntime placement CPU bundles use.
 */
import { readFileSync } from 'node:fs';
import { engineProgramFrom } from '../toolkit/runtime/int8/lower.js';
import { qoperatorModelFrom } from '../toolkit/quant/qoperator/model.js';
import { engineBytesFor, Int8Engine, int8IsaSupported, type Int8Isa } from '../toolkit/runtime/int8/native.js';
import { OrtRunner } from '../toolkit/runtime/ort.js';
import { int8PeakFrom } from './int8Peak.js';
import { copyGBpsFor, kernelMetricsFrom } from './kernelMetrics.js';
import { seededB0Models } from './seededB0.js';

function cpuinfoText(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Median ms of each runner over `rounds` rounds, each running every runner in a burst: one untimed run, `timed` timed. */
async function burstMedians(
  rounds: number,
  timed: number,
  runners: [string, () => unknown][],
): Promise<Record<string, number>> {
  const times: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, run] of runners) {
      await run();
      for (let i = 0; i < timed; i++) {
        const start = performance.now();
        await run();
        (times[name] ??= []).push(performance.now() - start);
      }
    }
  }
  return Object.fromEntries(Object.entries(times).map(([name, ms]) => [name, median(ms)]));
}

const { fp32, int8 } = await seededB0Models();
const engine = Int8Engine.load({ bytes: engineBytesFor({ model: int8, source: 'b0' }), source: 'b0' });
const info = engine.info();
const ortFp32 = await OrtRunner.create({ model: fp32, threads: 1 });
const ortQdq = await OrtRunner.create({ model: int8, threads: 1 });
const ortInt8 = await OrtRunner.create({ model: qoperatorModelFrom({ model: int8 }).model, threads: 1 });

const runners: Record<string, (input: Float32Array, batch: number) => Promise<unknown>> = {
  'ort-fp32': (input, batch) => ortFp32.run(input, [batch, 3, 224, 224]),
  'ort-qdq': (input, batch) => ortQdq.run(input, [batch, 3, 224, 224]),
  'ort-int8': (input, batch) => ortInt8.run(input, [batch, 3, 224, 224]),
  'native-int8': async (input, batch) => engine.run(input, [batch, 3, 224, 224]),
};
const medianMs: Record<string, Record<string, number>> = {};
for (const batch of [1, 8]) {
  const input = new Float32Array(batch * 3 * 224 * 224).map((_, i) => Math.sin(i) * 2);
  medianMs[`batch${batch}`] = await burstMedians(
    batch === 1 ? 11 : 5,
    batch === 1 ? 3 : 1,
    Object.entries(runners).map(([name, run]) => [name, () => run(input, batch)]),
  );
}

// Per-block breakdown (one thread), then two-thread scaling measured interleaved with one thread.
const single = new Float32Array(3 * 224 * 224).map((_, i) => Math.cos(i));
engine.setProfiling(true);
const profiledRuns = 10;
for (let r = 0; r < profiledRuns; r++) engine.run(single, [1, 3, 224, 224]);
const layers = engine.layerStats();
engine.setProfiling(false);
const blocks = new Map<number, { block: number; ms: number; macs: number; kinds: Record<string, number> }>();
for (const l of layers) {
  const b = blocks.get(l.block) ?? { block: l.block, ms: 0, macs: 0, kinds: {} };
  b.ms += l.totalMs / profiledRuns;
  b.macs += l.macs;
  b.kinds[l.kind] = (b.kinds[l.kind] ?? 0) + l.totalMs / profiledRuns;
  blocks.set(l.block, b);
}
const byKind: Record<string, number> = {};
for (const l of layers) byKind[l.kind] = (byKind[l.kind] ?? 0) + l.totalMs / profiledRuns;

const twoThreads = Int8Engine.load({ bytes: engineBytesFor({ model: int8, source: 'b0' }), source: 'b0' });
twoThreads.setThreads(2);
// More rounds than the batch-1 table: a two-thread run waits for the slower of two cores, so it catches more noise.
const scaling = await burstMedians(21, 3, [
  ['one', () => engine.run(single, [1, 3, 224, 224])],
  ['two', () => twoThreads.run(single, [1, 3, 224, 224])],
]);

// Every other SIMD path this CPU runs (each gives the same integers), batch 1 on one thread, interleaved with ORT fp32.
const otherPaths = (['avx512', 'avx-vnni', 'avx2', 'neon'] as Int8Isa[]).filter(
  (isa) => isa !== info.isa && int8IsaSupported(isa),
);
const pathEngines = otherPaths.map((isa) => {
  const e = Int8Engine.load({ bytes: engineBytesFor({ model: int8, source: 'b0' }), source: 'b0' });
  e.setIsa(isa);
  return [isa, e] as const;
});
const pathMs = await burstMedians(11, 3, [
  ['ort-fp32', () => ortFp32.run(single, [1, 3, 224, 224])],
  ...pathEngines.map(([isa, e]): [string, () => unknown] => [isa, () => e.run(single, [1, 3, 224, 224])]),
]);
const paths = Object.fromEntries(
  pathEngines.map(([isa]) => [
    isa,
    {
      batch1Ms: pathMs[isa]!,
      vsOrtFp32: pathMs[isa]! / pathMs['ort-fp32']!,
    },
  ]),
);
for (const [, e] of pathEngines) e.close();

// Batch 8 on two threads (one image per thread) against one thread, interleaved.
const batch8 = new Float32Array(8 * 3 * 224 * 224).map((_, i) => Math.sin(i) * 2);
const batchScaling = await burstMedians(11, 1, [
  ['one', () => engine.run(batch8, [8, 3, 224, 224])],
  ['two', () => twoThreads.run(batch8, [8, 3, 224, 224])],
]);

const peak = int8PeakFrom({ isa: info.isa, cpuinfo: cpuinfoText() });
const copySpeeds = new Map<number, number>();
const kernels = kernelMetricsFrom({
  stats: layers,
  program: engineProgramFrom({ model: int8 }),
  runs: profiledRuns,
  peakGops: peak.gops,
  copyGBps: (bytes) => copySpeeds.get(bytes) ?? copySpeeds.set(bytes, copyGBpsFor(bytes)).get(bytes)!,
});
const gops = (2 * info.macs) / (medianMs.batch1!['native-int8']! * 1e6);
process.stdout.write(
  `${JSON.stringify({
    model: 'EfficientNet-B0@224, seeded weights, onnxruntime Q/DQ placement',
    isa: info.isa,
    macs: info.macs,
    arenaBytes: info.arenaBytes,
    weightBytes: info.weightBytes,
    medianMs,
    ratios: {
      batch1LatencyVsOrtFp32: medianMs.batch1!['native-int8']! / medianMs.batch1!['ort-fp32']!,
      batch8ThroughputVsOrtFp32: medianMs.batch8!['ort-fp32']! / medianMs.batch8!['native-int8']!,
      batch1SpeedupVsOrtInt8: medianMs.batch1!['ort-int8']! / medianMs.batch1!['native-int8']!,
      twoThreadScaling: scaling.one! / scaling.two!,
      twoThreadBatch8Scaling: batchScaling.one! / batchScaling.two!,
    },
    gops: {
      achieved: gops,
      peak: peak.gops,
      share: peak.gops ? gops / peak.gops : null,
      assumption: peak.basis,
    },
    paths,
    kernels,
    byKindMs: byKind,
    blocks: [...blocks.values()].map((b) => ({ ...b, gops: (2 * b.macs) / (b.ms * 1e6) })),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  })}\n`,
);
engine.close();
twoThreads.close();
await ortFp32.close();
await ortInt8.close();
await ortQdq.close();
