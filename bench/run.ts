/**
 * `npm run bench`: runs each benchmark in a fresh process, writes bench/results/<name>.json and prints a table.
 * Goals are printed beside the numbers; absolute times depend on the machine, so compare within one run.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable } from '../toolkit/cli/table.js';
import { BUILD_RUNS, runBuildBench } from './buildBench.js';
import { runContentionBench } from './contention.js';
import { runQuantSeedsBench } from './quantSeeds.js';
import { type KernelMetrics, kernelMetricsText } from './kernelMetrics.js';

const here = dirname(fileURLToPath(import.meta.url));
// Results go to the source tree's bench/results/, also when run from dist/bench/.
const resultsDir = join(here.includes(`${'/dist/'}`) ? join(here, '..', '..', 'bench') : here, 'results');

interface ModelBuildResult {
  variant: string;
  params: number;
  nodes: number;
  bytes: number;
  seconds: { init: number; build: number; serialise: number; total: number };
  peakRssMiB: number;
}

function modelBuild(variant: string): ModelBuildResult {
  const out = execFileSync(process.execPath, [join(here, 'modelBuild.js'), variant], { encoding: 'utf8' });
  return JSON.parse(out) as ModelBuildResult;
}

const machine = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length };
// `node dist/bench/run.js contention` runs only the contention benchmark (the whole run takes minutes).
if (process.argv[2] === 'contention') {
  mkdirSync(resultsDir, { recursive: true });
  runContentionBench({ here, resultsDir, machine });
  process.exit(0);
}
// `node dist/bench/run.js build [b0 b3 b7]`: the full builds (B7's takes most of an hour on 2 cores: not in the
// default run).
if (process.argv[2] === 'build') {
  mkdirSync(resultsDir, { recursive: true });
  const variants = process.argv.slice(3);
  runBuildBench({ here, resultsDir, machine, variants: variants.length ? variants : Object.keys(BUILD_RUNS) });
  process.exit(0);
}
// `node dist/bench/run.js quant-seeds [quantize args…]`: quantize over 5 calibration seeds × both profiles (~10 minutes).
if (process.argv[2] === 'quant-seeds') {
  mkdirSync(resultsDir, { recursive: true });
  const shared = process.env.EFFNET_EDGE_SHARED ?? join(here, '..', '..', '..', 'shared');
  await runQuantSeedsBench({ shared, resultsDir, machine, quantizeArgs: process.argv.slice(3) });
  process.exit(0);
}
const runs = ['b0', 'b7'].map(modelBuild);
const result = {
  benchmark: 'model-build',
  about: 'seeded init + ONNX graph build + serialisation, one fresh process per variant',
  goal: { variant: 'b7', seconds: 10, peakRssMiB: 2048 },
  machine,
  runs,
};
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, 'model-build.json'), `${JSON.stringify(result, null, 2)}\n`);
const fixed = (n: number, digits: number) => n.toFixed(digits);
process.stdout.write(
  formatTable(
    [
      { header: 'Variant' },
      { header: 'Params', align: 'right' },
      { header: 'Nodes', align: 'right' },
      { header: 'ONNX MiB', align: 'right' },
      { header: 'Init s', align: 'right' },
      { header: 'Build s', align: 'right' },
      { header: 'Serialise s', align: 'right' },
      { header: 'Total s', align: 'right' },
      { header: 'Peak RSS MiB', align: 'right' },
    ],
    runs.map((r) => [
      r.variant,
      r.params,
      r.nodes,
      fixed(r.bytes / 2 ** 20, 1),
      fixed(r.seconds.init, 2),
      fixed(r.seconds.build, 2),
      fixed(r.seconds.serialise, 2),
      fixed(r.seconds.total, 2),
      fixed(r.peakRssMiB, 0),
    ]),
  ),
);
const b7 = runs.find((r) => r.variant === 'b7')!;
process.stdout.write(
  `\nB7 goal: under 10 s and 2048 MiB on this machine → ${fixed(b7.seconds.total, 2)} s, ${fixed(b7.peakRssMiB, 0)} MiB ` +
    `(${b7.seconds.total < 10 && b7.peakRssMiB < 2048 ? 'met' : 'NOT met'}). Results: ${join(resultsDir, 'model-build.json')}\n`,
);

// Quantization benchmarks (issue 3): each child prints one JSON line.
function quantBench(mode: string): Record<string, unknown> {
  const out = execFileSync(process.execPath, [join(here, 'quantBench.js'), mode], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>;
}
const latency = quantBench('latency') as { medianMs: Record<string, Record<string, number>>; peakRssMiB: number };
const preprocess = quantBench('preprocess') as { imagesPerSecond: number; peakRssMiB: number };
const calibrate = quantBench('calibrate') as {
  imagesPerSecond: number;
  seconds: number;
  peakRssMiB: number;
  tensors: number;
};
const b7Quantize = quantBench('b7') as { seconds: number; peakRssMiB: number };
const quant = { machine, latency, preprocess, calibrate, b7Quantize };
writeFileSync(join(resultsDir, 'quantization.json'), `${JSON.stringify(quant, null, 2)}\n`);
const rows = Object.entries(latency.medianMs).flatMap(([batch, times]) =>
  Object.entries(times).map(([model, ms]) => [batch, model, fixed(ms, 1), fixed(ms / times.fp32!, 2)]),
);
process.stdout.write(
  '\nONNX Runtime CPU, B0@224, 1 thread, median of interleaved runs (ratio to fp32 in the same run)\n',
);
process.stdout.write(
  formatTable(
    [{ header: 'Batch' }, { header: 'Model' }, { header: 'ms', align: 'right' }, { header: 'x fp32', align: 'right' }],
    rows,
  ),
);
process.stdout.write(
  `\nPreprocessing (torchvision preset, 224, Pillow-exact): ${fixed(preprocess.imagesPerSecond, 0)} images/s (goal 200)\n`,
);
process.stdout.write(
  `Calibration of 512 images, B0@224, entropy, ${calibrate.tensors} tensors: ${fixed(calibrate.imagesPerSecond, 1)} images/s, peak RSS ${fixed(calibrate.peakRssMiB, 0)} MiB\n`,
);
process.stdout.write(
  `B7@600 quantize (8 calibration images): ${fixed(b7Quantize.seconds, 1)} s, peak RSS ${fixed(b7Quantize.peakRssMiB, 0)} MiB (goal < 8192)\n`,
);

// Native int8 engine (issue 7): one child, every number from the same run.
interface NativeBench {
  isa: string;
  medianMs: Record<string, Record<string, number>>;
  ratios: {
    batch1LatencyVsOrtFp32: number;
    batch8ThroughputVsOrtFp32: number;
    batch1SpeedupVsOrtInt8: number;
    twoThreadScaling: number;
    twoThreadBatch8Scaling: number;
  };
  gops: { achieved: number; peak: number; share: number | null; assumption: string };
  paths: Record<string, { batch1Ms: number; vsOrtFp32: number }>;
  byKindMs: Record<string, number>;
  blocks: { block: number; ms: number; macs: number; gops: number }[];
  kernels: KernelMetrics;
}
const nativeOut = execFileSync(process.execPath, [join(here, 'nativeBench.js')], {
  encoding: 'utf8',
  maxBuffer: 1 << 22,
});
const native = JSON.parse(nativeOut.trim().split('\n').at(-1)!) as NativeBench;
writeFileSync(join(resultsDir, 'native-int8.json'), `${JSON.stringify({ machine, ...native }, null, 2)}\n`);
process.stdout.write(
  `\nNative int8 engine (${native.isa}) vs ONNX Runtime (ort-int8: the QOperator graph; ort-qdq: the Q/DQ graph), B0@224, one thread, median of interleaved runs\n`,
);
process.stdout.write(
  formatTable(
    [
      { header: 'Batch' },
      { header: 'Runtime' },
      { header: 'ms', align: 'right' },
      { header: 'x ort-fp32', align: 'right' },
    ],
    Object.entries(native.medianMs).flatMap(([batch, times]) =>
      Object.entries(times).map(([name, ms]) => [batch, name, fixed(ms, 2), fixed(ms / times['ort-fp32']!, 2)]),
    ),
  ),
);
const r = native.ratios;
process.stdout.write(
  `batch 1 latency ${fixed(r.batch1LatencyVsOrtFp32, 2)}× ort-fp32 (goal ≤ 0.5), batch 8 throughput ${fixed(r.batch8ThroughputVsOrtFp32, 2)}× (goal ≥ 2), ` +
    `${fixed(r.batch1SpeedupVsOrtInt8, 2)}× faster than ort-int8 at batch 1 (goal ≥ 2), ` +
    `2 threads ${fixed(r.twoThreadScaling, 2)}× at batch 1, ${fixed(r.twoThreadBatch8Scaling, 2)}× at batch 8 (goal ≥ 1.7); ${fixed(native.gops.achieved, 1)} int8 GOPS of ${fixed(native.gops.peak, 0)} peak (${native.gops.assumption})\n`,
);
const otherPaths = Object.entries(native.paths);
if (otherPaths.length > 0) {
  process.stdout.write(
    `the other paths this CPU runs, batch 1: ${otherPaths.map(([isa, p]) => `${isa} ${fixed(p.batch1Ms, 2)} ms (${fixed(p.vsOrtFp32, 2)}× ort-fp32)`).join(', ')}\n`,
  );
}
process.stdout.write(
  formatTable(
    [
      { header: 'Block' },
      { header: 'ms', align: 'right' },
      { header: 'MMACs', align: 'right' },
      { header: 'GOPS', align: 'right' },
    ],
    native.blocks.map((b) => [b.block, fixed(b.ms, 2), fixed(b.macs / 1e6, 1), fixed(b.gops, 1)]),
  ),
);
process.stdout.write(
  `by kind: ${Object.entries(native.byKindMs)
    .map(([k, ms]) => `${k} ${fixed(ms, 2)} ms`)
    .join(', ')}. Results: ${join(resultsDir, 'native-int8.json')}\n`,
);
process.stdout.write(kernelMetricsText(native.kernels));

// Steady under load (issue 18): one child, quiet then with a busy process per core.
runContentionBench({ here, resultsDir, machine });
