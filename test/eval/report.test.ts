import t from 'tap';
import { pairedTop1 } from '../../toolkit/eval/paired.js';
import { barChartSvg, htmlReport } from '../../toolkit/eval/report.js';

const input = {
  title: 'q <int8> & "fp32"',
  accuracy: {
    fp32: { top1: 63.2, top5: 96.2 },
    int8: { top1: 63.7, top5: 96.1 },
    agreement: 90.75,
    cosine: 0.98696,
    images: 2000,
  },
  sqnr: [
    { tensor: 'input', sqnrDb: 45.6 },
    { tensor: 'x'.repeat(80), sqnrDb: 2 },
    { tensor: 'same', sqnrDb: Infinity },
  ],
  sensitivities: [{ node: 'conv_a', cosine: 0.97, agreement: 88 }],
  calibratorScores: [{ label: 'percentile 99.8', cosine: 0.9887, agreement: 93.75 }],
  notes: ['BatchNormalization folded into Conv: 0'],
};

t.test('the report is self-contained, escaped and deterministic', async (t) => {
  const html = htmlReport(input);
  t.equal(html, htmlReport(input), 'same input, same bytes');
  t.match(html, /^<!doctype html>/);
  t.notMatch(html, /<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'no scripts, no network');
  t.match(html, /<title>q &#60;int8&#62; &#38; &#34;fp32&#34;<\/title>/);
  t.match(html, /<tr><td>top-1<\/td><td>63\.20 %<\/td><td>63\.70 %<\/td><\/tr>/);
  t.match(html, /top-1 agreement 90\.75 %, mean logit cosine 0\.98696/);
  t.equal((html.match(/<svg /g) ?? []).length, 3, 'calibrator, SQNR and sensitivity charts');
  t.match(html, /…x{55}</, 'long names are shortened from the left');
  t.match(html, />∞ dB</, 'an exact tensor shows infinite SQNR');
});

t.test('the paired top-1 numbers and the warnings, in the same words as the summary', async (t) => {
  // 5 images: fp32 right on 0–2, int8 right on 0, 1 and 3.
  const paired = pairedTop1({ fp32: [0, 0, 0, 1, 1], int8: [0, 0, 1, 0, 1], labels: [0, 0, 0, 0, 0] });
  const warning = '5 evaluation images, fewer than 100: top-1 and agreement on so few are mostly noise; give more';
  const html = htmlReport({ ...input, accuracy: { ...input.accuracy, paired }, warnings: [warning] });
  t.match(html, `<h1>q &#60;int8&#62; &#38; &#34;fp32&#34;</h1><h2>Warnings</h2><ul><li>${warning}</li></ul>\n`);
  t.match(
    html,
    '<p>top-1 60.00 % → 60.00 % (+0.00 points, 95 % interval −60.00…+60.00; 1 right→wrong, 1 wrong→right of 5); McNemar exact p 1.000</p>',
  );
  t.notMatch(htmlReport(input), /Warnings|McNemar/, 'neither when not given');
});

t.test('bar lengths are proportional to the values', async (t) => {
  const svg = barChartSvg({
    rows: [
      { label: 'a', value: 10 },
      { label: 'b', value: 5 },
    ],
    unit: 'dB',
  });
  const widths = [...svg.matchAll(/<rect [^>]*width="([\d.]+)"/g)].map((m) => Number(m[1]));
  t.strictSame(widths, [360, 180]);
});
