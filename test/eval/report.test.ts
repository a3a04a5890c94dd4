import t from 'tap';
import { pairedTop1 } from '../../toolkit/eval/paired.js';
import { barChartSvg, htmlReport, type ReportInput } from '../../toolkit/eval/report.js';
import type { FlippedImage, ReportPredictions } from '../../toolkit/eval/reportSections/input.js';
import { blockOf, LOW_SQNR_EXPLANATION } from '../../toolkit/eval/reportSections/layers.js';

// 5 images: fp32 right on 0–2, int8 right on 0, 1 and 3.
const paired = pairedTop1({ fp32: [0, 0, 0, 1, 1], int8: [0, 0, 1, 0, 1], labels: [0, 0, 0, 0, 0] });

const accuracy = {
  paired,
  fp32: { top1: 63.2, top5: 96.2 },
  int8: { top1: 63.7, top5: 96.1 },
  agreement: 90.75,
  cosine: 0.98696,
  images: 2000,
};

const flip = (i: number): FlippedImage => ({
  name: `cat/${i}.jpg`,
  label: 'cat',
  kind: 'right→wrong',
  thumbnail: 'data:image/jpeg;base64,AAAA',
  fp32: [{ name: 'cat', percent: 61.04 }],
  int8: [{ name: 'dog', percent: 50 }],
});

/** `n` images of 3 classes, image i labelled i % 3; int8 calls every class-2 image class 0. */
function predictions(options: { n: number; classes: number; shown: number; flipped: number }): ReportPredictions {
  const labels = Array.from({ length: options.n }, (_, i) => i % options.classes);
  return {
    classes: Array.from({ length: options.classes }, (_, c) => `c${c}`),
    labels,
    fp32Top1: [...labels],
    int8Top1: labels.map((l) => (l === 2 ? 0 : l)),
    flipped: Array.from({ length: options.shown }, (_, i) => flip(i)),
    flippedTotal: options.flipped,
  };
}

const full: ReportInput = {
  title: 'q <int8> & "fp32"',
  accuracy,
  thresholds: [
    { runtime: 'onnxruntime', minTop1: 60, minAgreement: 87.5, minCosine: 0.94 },
    { runtime: 'native-int8', minTop1: null, minAgreement: 93, minCosine: 0.94 },
  ],
  predictions: predictions({ n: 30, classes: 3, shown: 2, flipped: 10 }),
  sqnr: [
    { tensor: 'input', sqnrDb: 45.6 },
    { tensor: `/features/features.6/features.6.1/block/${'x'.repeat(80)}`, sqnrDb: -0.01 },
    { tensor: '/features/features.8/features.8.2/Mul_output_0', sqnrDb: 12 },
    { tensor: 'same', sqnrDb: Infinity },
  ],
  sensitivities: [{ node: 'conv_a', cosine: 0.97, agreement: 88 }],
  calibrators: {
    scores: [
      { label: 'percentile 99.9', cosine: 0.9887, agreement: 93.75 },
      { label: 'entropy', cosine: 0.98, agreement: 90 },
    ],
    chosen: 'percentile 99.9',
  },
  notes: ['BatchNormalization folded into Conv: 0', 'calibrator: entropy', 'calibrator: entropy'],
};

const sectionIds = (html: string) => [...html.matchAll(/<section id="([a-z]+)">/g)].map((m) => m[1]);

t.test('the report is self-contained, escaped and deterministic, every section in a fixed order', async (t) => {
  const html = htmlReport(full);
  t.equal(html, htmlReport(full), 'same input, same bytes');
  t.match(html, /^<!doctype html>/);
  t.notMatch(html, /<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'no scripts, no network');
  t.match(html, /<title>q &#60;int8&#62; &#38; &#34;fp32&#34;<\/title>/);
  t.strictSame(sectionIds(html), ['accuracy', 'flipped', 'classes', 'layers', 'calibrators', 'sensitivity', 'notes']);
  t.notMatch(html, /class="omitted"/, 'every section has its data');
});

t.test('accuracy numbers are green or red against every runtime’s bound', async (t) => {
  const html = htmlReport(full);
  t.match(
    html,
    '<td class="pass" title="meets the device threshold ≥ 60">63.70 %</td>',
    'top-1: one runtime has a bound',
  );
  t.match(html, '<td class="fail" title="below the device thresholds ≥ 87.5, 93">90.75 %</td>');
  t.match(html, '<td class="pass" title="meets the device thresholds ≥ 0.94, 0.94">0.98696</td>');
  t.match(
    html,
    '<tr><td class="name">native-int8</td><td>—</td><td class="fail" title="below the device threshold ≥ 93">≥ 93 %</td>',
  );
  const plain = htmlReport({ ...full, thresholds: undefined });
  t.match(plain, '<tr><td>top-1</td><td>63.20 %</td><td>63.70 %</td></tr>', 'no colour without thresholds');
  t.match(plain, 'No device thresholds: build sets them from its golden set; eval and quantize have none.');
});

t.test('flipped images: one thumbnail each, the paired counts, and how many are not shown', async (t) => {
  const html = htmlReport(full);
  const flipped = html.slice(html.indexOf('<section id="flipped">'), html.indexOf('<section id="classes">'));
  t.equal((flipped.match(/<img src="data:image\/jpeg;base64,AAAA"/g) ?? []).length, 2);
  t.match(
    flipped,
    '<p>top-1 60.00 % → 60.00 % (+0.00 points, 95 % interval −60.00…+60.00; 1 right→wrong, 1 wrong→right of 5)</p>',
  );
  t.match(
    flipped,
    '<p>10 of 30 images changed their top-1; the first 2 are shown (right→wrong first, then wrong→right, then the rest, each in dataset order), 8 more are not.</p>',
  );
  t.match(flipped, '<ol><li>cat 61.0 %</li></ol></div><div>int8<ol><li>dog 50.0 %</li></ol>');
  const gone = { ...full.predictions!, flipped: [{ ...flip(0), thumbnail: null }] };
  t.match(
    htmlReport({ ...full, predictions: gone }),
    '<div class="flip rw"><span class="nothumb" title="cat/0.jpg">could not be read again</span>',
  );
  const none = htmlReport({ ...full, predictions: predictions({ n: 30, classes: 3, shown: 0, flipped: 0 }) });
  t.match(none, '<p>No image of 30 changed its top-1.</p>');
});

t.test('per class: accuracy pairs and a heat map cell per (label, int8 class)', async (t) => {
  const html = htmlReport(full);
  t.equal((html.match(/<rect class="cell"/g) ?? []).length, 9);
  t.match(html, '<tr><td class="name">c2</td><td>10</td><td>100.0 %</td><td>0.0 %</td><td class="fail">−100.0</td>');
  t.match(html, '<title>c2 → c0: 10 (100.0 %)</title>', 'the collapsed class shows where it went');
  const many = htmlReport({ ...full, predictions: predictions({ n: 400, classes: 40, shown: 0, flipped: 0 }) });
  t.equal((many.match(/<rect class="cell"/g) ?? []).length, 900, 'at most 30 × 30');
  t.match(many, '<p>The 30 classes int8 gets wrong most often, of 40.</p>');
  const unlabelled = htmlReport({
    ...full,
    predictions: { ...predictions({ n: 3, classes: 3, shown: 0, flipped: 0 }), labels: [-1, -1, -1] },
  });
  t.match(
    unlabelled,
    '<section id="classes"><h2>Per class: fp32 vs int8, and int8’s confusion matrix</h2><p class="omitted">No per-class numbers: the evaluation images have no labels (give class sub-folders, --labels or --class-index).</p></section>',
  );
});

t.test('SQNR: grouped by block, full names, coloured, never -0.0, and why the deep blocks are low', async (t) => {
  const html = htmlReport(full);
  const groups = [...html.matchAll(/<tr class="group"><td colspan="3">([^<]*)<\/td><\/tr>/g)].map((m) => m[1]);
  t.strictSame(groups, ['stem', 'block 6.1', 'head']);
  t.match(html, `x${'x'.repeat(79)}</td>`, 'the whole name');
  t.notMatch(html, /…x|-0\.0 dB/, 'not cut from the left, no minus zero');
  t.match(
    html,
    '<td>0.0 dB</td><td style="text-align:left;white-space:nowrap"><span class="bar poor" style="width:0.0px"></span> poor</td>',
  );
  t.match(html, '<td>∞ dB</td>');
  t.match(html, '<p>Fine ≥ 20 dB: 2, low 10–20 dB: 1, poor &lt; 10 dB: 1 of 4 tensors.</p>');
  t.match(html, LOW_SQNR_EXPLANATION.slice(0, 60));
  t.notMatch(
    htmlReport({ ...full, sqnr: [{ tensor: 'input', sqnrDb: 40 }] }),
    'deepest blocks',
    'only when some are poor',
  );
  t.strictSame(
    [
      '/features/features.0/features.0.2/Mul_output_0',
      '/features/features.5/features.5.2/block/block.2/avgpool/GlobalAveragePool_output_0',
      '/features/features.8/features.8.2/Mul_output_0',
      'blocks.6.0.conv_pwl',
      'conv_head',
    ].map(blockOf),
    ['stem', 'block 5.2', 'head', 'block 6.0', 'head'],
  );
});

t.test('one line per calibrator tried, the chosen one marked; notes once each', async (t) => {
  const html = htmlReport(full);
  t.match(
    html,
    '<ul><li class="pass">percentile 99.9: logit cosine to fp32 0.98870, top-1 agreement 93.75 % — <b>chosen</b></li><li>entropy: logit cosine to fp32 0.98000, top-1 agreement 90.00 %</li></ul>',
  );
  t.match(html, '<ul><li>BatchNormalization folded into Conv: 0</li><li>calibrator: entropy</li></ul>');
});

t.test('the quantize page: no evaluation, each missing section says why', async (t) => {
  const html = htmlReport({ title: 'quantize', calibrators: full.calibrators, notes: ['Q/DQ inserted'] });
  t.strictSame(sectionIds(html), ['accuracy', 'flipped', 'classes', 'layers', 'calibrators', 'notes']);
  t.strictSame(
    [...html.matchAll(/<p class="omitted">([^<]*)<\/p>/g)].map((m) => m[1]),
    [
      'No evaluation in this run: quantize measures no accuracy; effnet-edge eval --report does.',
      'No per-image predictions: this run evaluated no images (quantize; run effnet-edge eval --report).',
      'No per-class numbers: this run evaluated no images.',
      'No per-tensor SQNR: it needs an evaluation of the int8 graph against fp32 (build or eval --report).',
    ],
  );
});

t.test('bar lengths are proportional to the values and labels are whole', async (t) => {
  const svg = barChartSvg({
    rows: [
      { label: 'a', value: 10 },
      { label: 'y'.repeat(70), value: 5 },
    ],
    unit: 'dB',
  });
  const widths = [...svg.matchAll(/<rect [^>]*width="([\d.]+)"/g)].map((m) => Number(m[1]));
  t.strictSame(widths, [360, 180]);
  t.match(svg, `>${'y'.repeat(70)}</text>`);
});
