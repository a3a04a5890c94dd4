/** `effnet-edge eval`: fp32 vs int8 accuracy, agreement, cosine and per-tensor SQNR on labelled images. */
import type { Dataset } from '../../../calibration/images/dataset.js';
import { batchesFromDataset } from '../../../calibration/images/loader.js';
import { UsageError } from '../../errors.js';
import { evaluationFrom, type Evaluation } from '../../eval/evaluate.js';
import { pairedText, pairedTop1FromLogits, type PairedTop1 } from '../../eval/paired.js';
import { htmlReport } from '../../eval/report.js';
import { reportPredictionsFrom } from '../../eval/reportPredictions.js';
import { accuracyWarnings } from '../../eval/warnings.js';
import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { modelFromFile } from '../../onnx/read.js';
import { preparedFp32From } from '../../quant/quantize.js';
import { givenPaths, outputsChecked } from '../outputs.js';
import type { Command, OptionGroup } from '../command.js';
import { flag, stringOption, numberOrDefault } from '../command.js';
import { BATCH_OPTION, JSON_GROUP } from '../sharedOptions.js';
import { LABELS_GROUP, PREPROCESS_GROUP, datasetFrom, inputSizeOf, preprocessingFrom } from '../images.js';
import { progressBar } from '../progress.js';
import { positiveInteger } from '../validators.js';
import { formatTable } from '../table.js';

const EVAL_GROUP: OptionGroup = [
  { name: 'fp32', type: 'string', placeholder: 'M.onnx', help: 'the float model' },
  { name: 'int8', type: 'string', placeholder: 'Q.onnx', help: 'its quantized model (from effnet-edge quantize)' },
  {
    name: 'data',
    type: 'string',
    placeholder: 'DIR',
    help: 'labelled images (class sub-folders, or --labels / --class-index)',
  },
  {
    name: 'count',
    type: 'integer',
    placeholder: 'N',
    help: 'a seeded, class-balanced subset of N images',
    validate: positiveInteger,
  },
  { name: 'seed', type: 'integer', placeholder: 'N', default: 0, help: 'seed for --count (default {default})' },
  BATCH_OPTION,
  {
    name: 'report',
    type: 'string',
    placeholder: 'FILE.html',
    help: 'a self-contained HTML report (accuracy, flipped images, per class, per-tensor SQNR)',
  },
];

const EVAL_IMAGES_FIX = 'give --data (and --count, if set) with at least 100 labelled images';

const percent = (value: number | null) => (value === null ? 'n/a' : `${value.toFixed(2)} %`);

export const evalCommand: Command = {
  name: 'eval',
  summary: 'Compare an fp32 model and its int8 Q/DQ model on images: top-1/top-5, agreement, cosine, SQNR per tensor.',
  usage: 'effnet-edge eval --fp32 M.onnx --int8 Q.onnx --data DIR [--preset P] [--json]',
  examples: [
    'effnet-edge eval --fp32 b0.onnx --int8 b0.int8.onnx --data ./val --preset torchvision --report report.html',
  ],
  groups: [EVAL_GROUP, PREPROCESS_GROUP, LABELS_GROUP, JSON_GROUP],
  async run(args, io) {
    const fp32Path = stringOption(args, 'fp32');
    const int8Path = stringOption(args, 'int8');
    if (!fp32Path || !int8Path) throw new UsageError('--fp32 M.onnx and --int8 Q.onnx are required');
    outputsChecked({
      outputs: givenPaths(args, ['report']),
      inputs: givenPaths(args, ['fp32', 'int8', 'data', 'labels', 'class-index']),
    });
    const batchSize = numberOrDefault(args, 'batch');
    const fp32 = preparedFp32From(await modelFromFile({ path: fp32Path })).model;
    const int8 = await modelFromFile({ path: int8Path });
    const inputSize = inputSizeOf(fp32);
    if (inputSizeOf(int8) !== inputSize)
      throw new UsageError(
        `--int8 takes ${inputSizeOf(int8)}x${inputSizeOf(int8)} inputs but --fp32 takes ${inputSize}x${inputSize}`,
      );
    const dataset = await datasetFrom({ args, flag: 'data', countFlag: 'count' });
    const bar = (label: string) => progressBar({ label, unit: 'img', enabled: !flag(args, 'json') });
    let progress = bar('evaluating');
    const evaluation = await evaluationFrom({
      fp32,
      int8,
      inputSize,
      batches: (pass) =>
        batchesFromDataset({
          dataset,
          preprocessing: preprocessingFrom(args, inputSize),
          inputSize,
          batchSize,
          onProgress: (d, t) => progress.update(d, t),
          ...(pass === 1 ? { onWarning: (m: string) => io.stderr(`effnet-edge eval: warning: ${m}\n`) } : {}),
        }),
      // Large models' activations are measured in groups, a pass over the images each.
      onPass: (pass, passes) => {
        if (pass === 1) return;
        progress.done();
        progress = bar(`SQNR pass ${pass}/${passes}`);
      },
    });
    progress.done();
    const { fp32Logits, int8Logits, labels } = evaluation;
    const paired = pairedTop1FromLogits({ fp32: fp32Logits, int8: int8Logits, labels });
    const warnings = accuracyWarnings({ ...evaluation, imagesFix: EVAL_IMAGES_FIX });
    const report = stringOption(args, 'report');
    if (report) await writeEvalReport({ path: report, fp32Path, int8Path, evaluation, paired, warnings, dataset });
    if (flag(args, 'json')) {
      io.stdout(
        `${JSON.stringify(
          {
            fp32: evaluation.fp32,
            int8: evaluation.int8,
            agreement: evaluation.agreement,
            cosine: evaluation.cosine,
            images: evaluation.images,
            paired,
            warnings,
            layers: evaluation.layers.map((l) => ({
              tensor: l.tensor,
              sqnrDb: Number.isFinite(l.sqnrDb) ? l.sqnrDb : null,
            })),
          },
          null,
          2,
        )}\n`,
      );
      return 0;
    }
    io.stdout(
      formatTable(
        [{ header: '' }, { header: 'fp32', align: 'right' }, { header: 'int8', align: 'right' }],
        [
          ['top-1', percent(evaluation.fp32.top1), percent(evaluation.int8.top1)],
          ['top-5', percent(evaluation.fp32.top5), percent(evaluation.int8.top5)],
        ],
      ),
    );
    if (paired) io.stdout(`${pairedText(paired)}\n`);
    io.stdout(
      `top-1 agreement ${evaluation.agreement.toFixed(2)} %, mean logit cosine ${evaluation.cosine.toFixed(5)}, ${evaluation.images} images\n`,
    );
    const worst = [...evaluation.layers].sort((a, b) => a.sqnrDb - b.sqnrDb).slice(0, 5);
    if (worst.length)
      io.stdout(`lowest SQNR: ${worst.map((l) => `${l.tensor} ${l.sqnrDb.toFixed(1)} dB`).join(', ')}\n`);
    for (const warning of warnings) io.stdout(`warning: ${warning}\n`);
    return 0;
  },
};

/** The same page as a bundle's report.html, without the device thresholds a build sets. */
async function writeEvalReport(options: {
  path: string;
  fp32Path: string;
  int8Path: string;
  evaluation: Evaluation;
  paired: PairedTop1 | null;
  warnings: string[];
  dataset: Dataset;
}): Promise<void> {
  const { evaluation } = options;
  const predictions = await reportPredictionsFrom({
    fp32: evaluation.fp32Logits,
    int8: evaluation.int8Logits,
    labels: evaluation.labels,
    images: evaluation.files,
    classes: options.dataset.classes ?? null,
  });
  const html = htmlReport({
    title: `effnet-edge eval: ${basename(options.int8Path)} vs ${basename(options.fp32Path)}`,
    accuracy: { ...evaluation, paired: options.paired },
    predictions,
    sqnr: evaluation.layers,
    warnings: options.warnings,
  });
  await writeFile(options.path, html);
}
