/**
 * Benchmark children for quantization (run one per process by bench/run.ts, so peak RSS is theirs alone):
 *   latency  — ONNX Runtime fp32 vs int8 (both placement profiles), B0@224, batch 1 and 8, one thread, interleaved
 *   preprocess — decoding + torchvision preprocessing throughput for 512 images at 224
 *   calibrate  — full calibration (decode, ORT with exposed activations, entropy histograms) of 512 images, B0@224
 *   b7         — quantize B7@600 (calibration on 8 images): peak RSS
 *   build bN C E [M] — the CLI's whole `build` (default settings, jetson) of bN at its native size on C calibration
 *                  and E evaluation images (M: the model file `model` wrote): wall time, peak RSS and each stage's time
 *   model bN   — bN with bench weights (benchWeights.ts) written to a temporary file, in its own process so that the
 *                build's peak RSS does not include it
 * Weights are seeded (latency and memory do not depend on their values; `build` takes the bench weights `model` wrote);
 * images are the ImageNet sample, repeated.
 */
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { datasetFromFolder } from '../calibration/images/dataset.js';
import { batchesFromDataset, preloadedBatches } from '../calibration/images/loader.js';
import { torchvisionPreset } from '../calibration/images/presets.js';
import { networkConfigFrom } from '../toolkit/model/config.js';
import type { VariantName } from '../toolkit/model/variants.js';
import { benchModelFile } from './benchWeights.js';
import { onnxFromExportOptions } from '../toolkit/model/export.js';
import { structureOf } from '../toolkit/passes/recognise.js';
import { quantizationPlanFrom, type PlacementProfile } from '../toolkit/quant/plan.js';
import { qdqModelFrom } from '../toolkit/quant/qdq.js';
import { preparedFp32From, quantizedModelFrom } from '../toolkit/quant/quantize.js';
import { OrtRunner } from '../toolkit/runtime/ort.js';
import { bundleFolderWritten } from '../toolkit/bundle/write.js';
import { buildCommand, buildPlanFrom } from '../toolkit/cli/commands/build.js';
import { parseCommandArgs } from '../toolkit/cli/command.js';
import { bundleFrom } from '../toolkit/pipeline/build.js';
import { stageTimer } from './stageTimer.js';

const shared =
  process.env.EFFNET_EDGE_SHARED ?? join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', 'shared');
const sampleImages = join(shared, 'fixtures', 'imagenet_sample', 'images');

/** `count` links to the sample images in turn; each name keeps its image's synset, so the class index labels it. */
function repeatedImageFolder(count: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'effnet-bench-'));
  const sources = readdirSync(sampleImages).sort();
  mkdirSync(join(dir, 'images'));
  for (let i = 0; i < count; i++) {
    const source = sources[i % sources.length]!;
    symlinkSync(join(sampleImages, source), join(dir, 'images', `${String(i).padStart(4, '0')}_${source}`));
  }
  return join(dir, 'images');
}

async function b0Fp32(variant = 'b0') {
  const { model } = await onnxFromExportOptions({ network: { variant }, weights: { kind: 'seeded', seed: 0 } });
  return preparedFp32From(model).model;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function latency() {
  const fp32 = await b0Fp32();
  const { structure } = structureOf(fp32);
  const models: Record<string, typeof fp32> = { fp32 };
  for (const profile of ['tensorrt', 'onnxruntime'] as PlacementProfile[]) {
    const plan = quantizationPlanFrom({ model: fp32, structure, profile });
    models[`int8-${profile}`] = qdqModelFrom({
      model: fp32,
      plan,
      ranges: new Map(plan.activations.map((a) => [a.tensor, 8])),
      weightQmax: 127,
      weightFormat: profile === 'onnxruntime' ? 'int8' : 'qdq',
    }).model;
  }
  const runners = Object.fromEntries(
    await Promise.all(
      Object.entries(models).map(async ([k, m]) => [k, await OrtRunner.create({ model: m, threads: 1 })] as const),
    ),
  );
  const results: Record<string, Record<string, number>> = {};
  for (const batch of [1, 8]) {
    const input = new Float32Array(batch * 3 * 224 * 224).fill(0.1);
    const times: Record<string, number[]> = {};
    const rounds = batch === 1 ? 15 : 4;
    for (const runner of Object.values(runners)) await runner.run(input, [batch, 3, 224, 224]); // warm-up
    for (let r = 0; r < rounds; r++) {
      for (const [name, runner] of Object.entries(runners)) {
        const t0 = performance.now();
        await runner.run(input, [batch, 3, 224, 224]);
        (times[name] ??= []).push(performance.now() - t0);
      }
    }
    results[`batch${batch}`] = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  }
  for (const runner of Object.values(runners)) await runner.close();
  return { threads: 1, medianMs: results };
}

async function preprocess() {
  const folder = repeatedImageFolder(512);
  const dataset = await datasetFromFolder({ root: folder, labels: { kind: 'none' } });
  const t0 = performance.now();
  let images = 0;
  for await (const batch of batchesFromDataset({
    dataset,
    preprocessing: torchvisionPreset('b0'),
    inputSize: 224,
    batchSize: 32,
    concurrency: availableParallelism() * 2,
  }))
    images += batch.size;
  const seconds = (performance.now() - t0) / 1000;
  return { images, seconds, imagesPerSecond: images / seconds };
}

async function calibrate(variant: string, count: number) {
  const folder = repeatedImageFolder(count);
  const dataset = await datasetFromFolder({ root: folder, labels: { kind: 'none' } });
  const model = (await onnxFromExportOptions({ network: { variant }, weights: { kind: 'seeded', seed: 0 } })).model;
  const size = model.graph.inputs[0]!.shape![2] as number;
  const preset = torchvisionPreset(variant === 'b7' ? 'b7' : 'b0');
  const batchSize = variant === 'b7' ? 2 : 16;
  const t0 = performance.now();
  const result = await quantizedModelFrom({
    model,
    inputSize: size,
    calibrator: { method: 'entropy' },
    profile: 'tensorrt',
    weightRange: 'full',
    batchSize,
    batches: () => batchesFromDataset({ dataset, preprocessing: preset, inputSize: size, batchSize }),
  });
  const seconds = (performance.now() - t0) / 1000;
  return {
    variant,
    images: result.images,
    tensors: result.ranges.size,
    seconds,
    imagesPerSecond: result.images / seconds,
  };
}

/** The variant with bench weights (benchWeights.ts), BN statistics from 4 sample images: the ONNX file's path. */
async function benchModel(variant: string) {
  const dataset = await datasetFromFolder({ root: repeatedImageFolder(4), labels: { kind: 'none' } });
  const { resolution } = networkConfigFrom({ variant });
  const preprocessing = torchvisionPreset(variant as VariantName);
  const [batch] = await preloadedBatches({ dataset, preprocessing, inputSize: resolution, batchSize: 4 });
  return { path: await benchModelFile({ variant, seed: 0, images: { data: batch!.data, count: batch!.size } }) };
}

/**
 * The CLI's build, stage by stage: its option parsing and defaults, the pipeline, the folder written. `model`: an
 * ONNX file (benchModel's) built with the torchvision preset for its size, else the variant with seeded weights.
 */
async function build(variant: string, calibCount: number, evalCount: number, model?: string, extra: string[] = []) {
  const out = join(mkdtempSync(join(tmpdir(), 'effnet-bench-')), 'bundle');
  const source = model ? ['--model', model] : ['--variant', variant];
  const argv = ['--target', 'jetson', ...source, '--preset', 'torchvision', '--out', out];
  const classIndex = join(shared, 'fixtures', 'imagenet_sample', 'imagenet_class_index.json');
  const folders = ['--calib', repeatedImageFolder(calibCount), '--eval', repeatedImageFolder(evalCount)];
  const timer = stageTimer({
    gaps: {
      'start→calibrating': 'setup (model, golden and selection images)',
      // Each data-driven step ends by scoring its choice on the held-back check images, in the gap after its progress.
      'range search→evaluating': 'search check + bias correction + Q/DQ',
      // No search (--search-count 0).
      'calibrator choice→evaluating': 'calibrator check + bias correction + Q/DQ',
      'calibrating→evaluating': 'selection + Q/DQ',
      'calibrator choice→range search': 'calibrator check + search images',
    },
  });
  const t0 = performance.now();
  const { options } = await buildPlanFrom(
    parseCommandArgs(buildCommand, [...argv, ...folders, '--class-index', classIndex, ...extra]),
  );
  const result = await bundleFrom({ ...options, onProgress: timer.onProgress });
  timer.mark('golden set + thresholds + report');
  await bundleFolderWritten({ out, files: result.files, force: false });
  timer.mark('writing');
  return {
    variant,
    inputSize: options.inputSize,
    calibrationImages: result.manifest.calibration?.images,
    // The manifest records a search only where its ranges were applied; the check images may have vetoed them.
    searchImages: result.manifest.calibration?.search?.images ?? 0,
    searchRan: result.passes.some((p) => p.startsWith('activation ranges searched')),
    evaluationImages: result.manifest.accuracy.images,
    seconds: (performance.now() - t0) / 1000,
    stages: timer.seconds(),
    peakRssMiBAfter: timer.peakRssMiB(),
    passes: result.passes,
  };
}

const mode = process.argv[2];
const result =
  mode === 'latency'
    ? await latency()
    : mode === 'preprocess'
      ? await preprocess()
      : mode === 'calibrate'
        ? await calibrate('b0', 512)
        : mode === 'b7'
          ? await calibrate('b7', 8)
          : mode === 'build'
            ? await build(
                process.argv[3] ?? 'b0',
                Number(process.argv[4] ?? 512),
                Number(process.argv[5] ?? 128),
                process.argv[6],
                // Build options after the model (`--search-count 8`: the range search where the budget gives none).
                process.argv.slice(7),
              )
            : mode === 'model'
              ? await benchModel(process.argv[3] ?? 'b0')
              : undefined;
if (!result) throw new Error(`unknown mode ${mode}`);
process.stdout.write(`${JSON.stringify({ ...result, peakRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`);
