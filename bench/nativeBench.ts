/**
 * Benchmark child (run by bench/run.ts): the native int8 engine against ONNX Runtime fp32 and int8 on B0@224 with
 * seeded weights, all measured interleaved in this one process: batch 1 and 8 on one thread, and the engine on
 * two threads (batch 1 layer by layer, batch 8 one image per thread). Each round runs every runtime in a short burst (one untimed run, then the timed ones), so that each
 * is timed in its steady state (its weights in cache, its threads awake), as in a serving loop, while the rounds'
 * interleaving still exposes all of them to the same machine noise. Also the engine's per-block time breakdown and its int8 GOPS against the machine's peak.
 * Ranges are fixed (speed does not depend on them); the Q/DQ model is the onnxruntime placement CPU bundles use.
 */
import { readFileSync } from 'node:fs';
import { onnxFromExportOptions } from '../toolkit/model/export.js';
import { structureOf } from '../toolkit/passes/recognise.js';
import { quantizationPlanFrom } from '../toolkit/quant/plan.js';
import { qdqModelFrom } from '../toolkit/quant/qdq.js';
import { preparedFp32From } from '../toolkit/quant/quantize.js';
import { engineBytesFor, Int8Engine, int8IsaSupported, type Int8Isa } from '../toolkit/runtime/int8/native.js';
import { OrtRunner } from '../toolkit/runtime/ort.js';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * Peak int8 MAC rate of the path the engine chose, per core: two vpdpbusd per cycle, 2 × 64 MACs on 512-bit vectors
 * (AVX-512 on cores with 512-bit units such as Zen 5; Zen 4 and client cores split them, half that) and 2 × 32 on
 * 256-bit (AVX-VNNI); vpmaddwd (AVX2) 2 × 16, vmlal (NEON) 2 × 4, scalar 1. Clock: /proc/cpuinfo's (nominal) MHz,
 * so a turbo clock makes the share look higher than it is.
 */
function peakGops(isa: string): { gops: number; mhz: number; macsPerCycle: number } {
  let mhz = 0;
  try {
    mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 0);
  } catch {
    mhz = 0;
  }
  const macsPerCycle = ({ avx512: 128, 'avx-vnni': 64, avx2: 32, neon: 8 } as Record<string, number>)[isa] ?? 1;
  return { gops: (2 * macsPerCycle * mhz) / 1000, mhz, macsPerCycle };
}

const { model } = await onnxFromExportOptions({ network: { variant: 'b0' }, weights: { kind: 'seeded', seed: 0 } });
const fp32 = preparedFp32From(model).model;
const { structure } = structureOf(fp32);
const plan = quantizationPlanFrom({ model: fp32, structure, profile: 'onnxruntime' });
const int8 = qdqModelFrom({ model: fp32, plan, ranges: new Map(plan.activations.map((a) => [a.tensor, 8])), weightQmax: 127, weightFormat: 'int8' }).model;
const engine = Int8Engine.load({ bytes: engineBytesFor({ model: int8, source: 'b0' }), source: 'b0' });
const info = engine.info();
const ortFp32 = await OrtRunner.create({ model: fp32, threads: 1 });
const ortInt8 = await OrtRunner.create({ model: int8, threads: 1 });

const runners: Record<string, (input: Float32Array, batch: number) => Promise<unknown>> = {
  'ort-fp32': (input, batch) => ortFp32.run(input, [batch, 3, 224, 224]),
  'ort-int8': (input, batch) => ortInt8.run(input, [batch, 3, 224, 224]),
  'native-int8': async (input, batch) => engine.run(input, [batch, 3, 224, 224]),
};
const medianMs: Record<string, Record<string, number>> = {};
for (const batch of [1, 8]) {
  const input = new Float32Array(batch * 3 * 224 * 224).map((_, i) => Math.sin(i) * 2);
  const rounds = batch === 1 ? 11 : 5, timedPerBurst = batch === 1 ? 3 : 1;
  const times: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, run] of Object.entries(runners)) {
      await run(input, batch);
      for (let i = 0; i < timedPerBurst; i++) {
        const start = performance.now();
        await run(input, batch);
        (times[name] ??= []).push(performance.now() - start);
      }
    }
  }
  medianMs[`batch${batch}`] = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
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
const scaling: Record<string, number[]> = { one: [], two: [] };
// More rounds than the batch-1 table: a two-thread run waits for the slower of two cores, so it catches more noise.
for (let r = 0; r < 21; r++) {
  for (const [name, runner] of [['one', engine], ['two', twoThreads]] as const) {
    runner.run(single, [1, 3, 224, 224]);
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      runner.run(single, [1, 3, 224, 224]);
      scaling[name]!.push(performance.now() - start);
    }
  }
}

// Every other SIMD path this CPU runs (each gives the same integers), batch 1 on one thread, interleaved with ORT fp32.
const otherPaths = (['avx512', 'avx-vnni', 'avx2', 'neon'] as Int8Isa[]).filter((isa) => isa !== info.isa && int8IsaSupported(isa));
const pathEngines = otherPaths.map((isa) => {
  const e = Int8Engine.load({ bytes: engineBytesFor({ model: int8, source: 'b0' }), source: 'b0' });
  e.setIsa(isa);
  return [isa, e] as const;
});
const pathTimes: Record<string, number[]> = { 'ort-fp32': [] };
for (let r = 0; r < 11; r++) {
  for (const [name, run] of [['ort-fp32', () => ortFp32.run(single, [1, 3, 224, 224])] as const,
    ...pathEngines.map(([isa, e]) => [isa, async () => e.run(single, [1, 3, 224, 224])] as const)]) {
    await run();
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      await run();
      (pathTimes[name] ??= []).push(performance.now() - start);
    }
  }
}
const paths = Object.fromEntries(pathEngines.map(([isa]) => [isa, {
  batch1Ms: median(pathTimes[isa]!), vsOrtFp32: median(pathTimes[isa]!) / median(pathTimes['ort-fp32']!),
}]));
for (const [, e] of pathEngines) e.close();

// Batch 8 on two threads (one image per thread) against one thread, interleaved.
const batch8 = new Float32Array(8 * 3 * 224 * 224).map((_, i) => Math.sin(i) * 2);
const batchScaling: Record<string, number[]> = { one: [], two: [] };
for (let r = 0; r < 11; r++) {
  for (const [name, runner] of [['one', engine], ['two', twoThreads]] as const) {
    runner.run(batch8, [8, 3, 224, 224]);
    const start = performance.now();
    runner.run(batch8, [8, 3, 224, 224]);
    batchScaling[name]!.push(performance.now() - start);
  }
}

const peak = peakGops(info.isa);
const gops = (2 * info.macs) / (medianMs.batch1!['native-int8']! * 1e6);
process.stdout.write(JSON.stringify({
  model: 'EfficientNet-B0@224, seeded weights, onnxruntime Q/DQ placement',
  isa: info.isa, macs: info.macs, arenaBytes: info.arenaBytes, weightBytes: info.weightBytes,
  medianMs,
  ratios: {
    batch1LatencyVsOrtFp32: medianMs.batch1!['native-int8']! / medianMs.batch1!['ort-fp32']!,
    batch8ThroughputVsOrtFp32: medianMs.batch8!['ort-fp32']! / medianMs.batch8!['native-int8']!,
    twoThreadScaling: median(scaling.one!) / median(scaling.two!),
    twoThreadBatch8Scaling: median(batchScaling.one!) / median(batchScaling.two!),
  },
  gops: { achieved: gops, peak: peak.gops, share: peak.gops ? gops / peak.gops : null, assumption: `${peak.macsPerCycle} int8 MACs/cycle at ${peak.mhz} MHz` },
  paths,
  byKindMs: byKind,
  blocks: [...blocks.values()].map((b) => ({ ...b, gops: (2 * b.macs) / (b.ms * 1e6) })),
  peakRssMiB: process.resourceUsage().maxRSS / 1024,
}) + '\n');
engine.close();
twoThreads.close();
await ortFp32.close();
await ortInt8.close();
