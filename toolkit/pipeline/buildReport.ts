/** The bundle's report.html: the evaluation, the device thresholds it is held to, and how the graph was made. */
import type { Target } from '../../targets/load.js';
import type { PairedTop1 } from '../eval/paired.js';
import { htmlReport, type ReportInput } from '../eval/report.js';
import type { Accuracy, BundleManifest } from '../bundle/manifest.js';
import { thresholdLines } from '../bundle/thresholds.js';
import { describeSettings } from '../quant/rangeSelection.js';

/** What the build made and measured (build.ts's BundleModels). */
interface BuiltModels {
  int8?: unknown;
  calibration: BundleManifest['calibration'];
  accuracy: Accuracy;
  paired: PairedTop1 | null;
  sqnr: { tensor: string; sqnrDb: number }[];
  passes: string[];
  report: Pick<ReportInput, 'predictions' | 'calibrators'>;
}

/** The manifest's bounds per runtime, for colouring the evaluation's numbers. */
function reportThresholds(thresholds: BundleManifest['thresholds']): NonNullable<ReportInput['thresholds']> {
  return Object.entries(thresholds.runtimes).map(([runtime, t]) => ({
    runtime,
    minTop1: t.minTop1,
    minAgreement: t.minAgreement,
    minCosine: t.minCosine,
  }));
}

export function buildReportHtml(options: {
  build: { modelLabel: string; target: Target; precision: string };
  models: BuiltModels;
  thresholds: BundleManifest['thresholds'];
  goldenCount: number;
  warnings: string[];
}): string {
  const { models, thresholds } = options;
  const { target, precision } = options.build;
  const { accuracy, calibration, sqnr, passes } = models;
  // The range selection's pass already names the chosen calibrator; a second line would repeat it.
  const calibratorNamed = models.report.calibrators !== undefined;
  return htmlReport({
    title: `effnet-edge build: ${options.build.modelLabel} for ${target.name} (${precision})`,
    ...(accuracy.int8
      ? {
          accuracy: {
            fp32: accuracy.fp32,
            int8: accuracy.int8,
            agreement: accuracy.agreement!,
            cosine: accuracy.cosine!,
            images: accuracy.images,
            paired: models.paired,
          },
          thresholds: reportThresholds(thresholds),
        }
      : {}),
    ...models.report,
    warnings: options.warnings,
    ...(sqnr.length ? { sqnr } : {}),
    notes: [
      ...passes,
      ...(calibration
        ? calibratorNamed
          ? []
          : [`calibrator: ${describeSettings(calibration.calibrator)}`]
        : [`${precision}: no calibration; fp32 top-1 ${accuracy.fp32.top1?.toFixed(2) ?? 'n/a'} %`]),
      `golden set: ${options.goldenCount} images; device thresholds per runtime:`,
      ...thresholdLines({ thresholds, referenceName: models.int8 ? 'int8' : 'fp32' }),
    ],
  });
}
