import t from 'tap';
import { targetNamed } from '../../targets/load.js';
import { buildReportHtml } from '../../toolkit/pipeline/buildReport.js';

const bounds = { minAgreement: 87.5, minCosine: 0.94, minTop1: 46.87, minReferenceAgreement: 93.75 };
const thresholds = {
  largestLogit: 7.35,
  runtimes: {
    tensorrt: { basis: 'estimated' as const, why: 'not here', ...bounds, maxLogitDeviation: 1.84 },
  },
};
const models = {
  int8: {},
  calibration: {
    calibrator: { method: 'percentile' as const, percentile: 99.9 },
    images: 256,
    profile: 'tensorrt' as const,
    weightRange: 'full' as const,
    search: null,
    passes: [],
  },
  accuracy: {
    images: 2000,
    labelled: 2000,
    fp32: { top1: 63.2, top5: 96.2 },
    int8: { top1: 46, top5: 96.2 },
    agreement: 95.85,
    cosine: 0.99347,
  },
  paired: null,
  sqnr: [],
  passes: ['calibrator chosen on 256 calibration images: percentile 99.9 (logit cosine 0.9886)'],
};

t.test("the build's page: numbers against the manifest's bounds, the calibrator named once", async (t) => {
  const build = { modelLabel: 'b0.onnx', target: targetNamed('jetson-orin-nano'), precision: 'int8' };
  const chosen = {
    calibrators: { scores: [{ label: 'percentile 99.9', cosine: 0.9886, agreement: 91 }], chosen: 'percentile 99.9' },
  };
  const html = buildReportHtml({
    build,
    models: { ...models, report: chosen },
    thresholds,
    goldenCount: 32,
    warnings: [],
  });
  t.match(html, '<td class="fail" title="below the device threshold ≥ 46.87">46.00 %</td>', 'top-1 under the bound');
  t.match(html, '<td class="pass" title="meets the device threshold ≥ 87.5">95.85 %</td>');
  t.equal((html.match(/percentile 99\.9/g) ?? []).length, 2, 'the calibrator line and the pass note, no third');
  const fixed = buildReportHtml({
    build,
    models: { ...models, report: {} },
    thresholds,
    goldenCount: 32,
    warnings: [],
  });
  t.match(fixed, '<li>calibrator: percentile 99.9</li>', 'a fixed --method still names its calibrator');
});
