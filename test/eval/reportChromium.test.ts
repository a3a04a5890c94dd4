/**
 * The report as a browser shows it: a real evaluation of the CIFAR-10 fixture (quantized on 20 images, evaluated on
 * 40) rendered by headless Chromium, the screenshot decoded and the DOM read back. Skipped without Chromium.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { balancedSubset, datasetFromFolder } from '../../calibration/images/dataset.js';
import { batchesFromDataset, preloadedBatches } from '../../calibration/images/loader.js';
import { directPreset } from '../../calibration/images/presets.js';
import { evaluationFrom } from '../../toolkit/eval/evaluate.js';
import { pairedTop1FromLogits } from '../../toolkit/eval/paired.js';
import { htmlReport } from '../../toolkit/eval/report.js';
import { reportPredictionsFrom } from '../../toolkit/eval/reportPredictions.js';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { quantizedModelFrom } from '../../toolkit/quant/quantize.js';
import { chromiumPath, screenshotOf } from '../../scripts/chromium.js';
import { CIFAR_B0 } from '../helpers/paths.js';

const chromium = chromiumPath();
const skip = chromium ? false : 'no chromium on PATH (apt-get install chromium, or set $CHROMIUM)';

async function fixturePage(): Promise<string> {
  const preprocessing = directPreset();
  const load = async (folder: string, count: number) =>
    balancedSubset({ dataset: await datasetFromFolder({ root: join(CIFAR_B0, folder) }), count, seed: 0 });
  const calib = await preloadedBatches({
    dataset: await load('calib', 20),
    preprocessing,
    inputSize: 32,
    batchSize: 20,
  });
  const evalSet = await load('test', 40);
  const { fp32, int8 } = await quantizedModelFrom({
    model: await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') }),
    batches: async function* () {
      yield* calib;
    },
    batchSize: 20,
    inputSize: 32,
    calibrator: { method: 'percentile', percentile: 99.9 },
    profile: 'tensorrt',
    weightRange: 'full',
  });
  const batches = batchesFromDataset({ dataset: evalSet, preprocessing, inputSize: 32, batchSize: 40 });
  const evaluation = await evaluationFrom({ fp32, int8, batches: () => batches, inputSize: 32 });
  const { fp32Logits, int8Logits, labels } = evaluation;
  const predictions = await reportPredictionsFrom({
    fp32: fp32Logits,
    int8: int8Logits,
    labels,
    images: evaluation.files,
    classes: evalSet.classes ?? null,
  });
  const paired = pairedTop1FromLogits({ fp32: fp32Logits, int8: int8Logits, labels });
  return htmlReport({
    title: 'CIFAR-10 fixture, 40 images',
    accuracy: { ...evaluation, paired },
    thresholds: [{ runtime: 'onnxruntime', minTop1: 40, minAgreement: 99, minCosine: 0.9 }],
    predictions,
    sqnr: evaluation.layers,
  });
}

t.test('headless Chromium renders every section of a real report', { skip }, async (t) => {
  const dir = t.testdir();
  const html = join(dir, 'report.html');
  const png = join(dir, 'report.png');
  const page = await fixturePage();
  writeFileSync(html, page);
  const { dom } = await screenshotOf({ chromium: chromium!, html, png, width: 1000, height: 1400 });
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  t.strictSame([info.width, info.height], [1000, 1400]);
  const colours = new Set<number>();
  let inked = 0;
  for (let i = 0; i < data.length; i += 3) {
    colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
    if (data[i]! < 200 || data[i + 1]! < 200 || data[i + 2]! < 200) inked += 1;
  }
  t.ok(colours.size > 500, `${colours.size} distinct colours: text, bars, heat map and thumbnails`);
  t.ok(inked / (info.width * info.height) > 0.02, `${((100 * inked) / (info.width * info.height)).toFixed(1)} % inked`);

  const headings = [...dom.matchAll(/<section id="([a-z]+)"><h2>([^<]*)<\/h2>/g)].map((m) => [m[1], m[2]]);
  t.strictSame(headings, [
    ['accuracy', 'Accuracy (40 images)'],
    ['flipped', 'Images whose top-1 changed under int8'],
    ['classes', 'Per class: fp32 vs int8, and int8’s confusion matrix'],
    ['layers', 'SQNR per quantized tensor (int8 graph vs fp32)'],
    ['calibrators', 'Calibrators tried'],
  ]);
  t.equal((dom.match(/<rect class="cell"/g) ?? []).length, 100, 'a 10 × 10 heat map');
  t.equal((dom.match(/<img src="data:image\/jpeg;base64,/g) ?? []).length, (page.match(/<img /g) ?? []).length);
});
