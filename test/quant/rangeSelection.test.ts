import t from 'tap';
import type { CheckedChoice, LogitScore } from '../../toolkit/quant/checked.js';
import {
  defaultSelectImages,
  percentileKeptText,
  selectionReports,
  type CandidateScore,
} from '../../toolkit/quant/rangeSelection.js';

const score = (cosine: number, images: number): LogitScore => ({ cosine, agreement: 90, images });
const p = (percentile: number) => ({ method: 'percentile', percentile }) as const;
// About the fixture's scores today (quantize's default on its 1000 calibration images: 256 fit, 128 check).
const scores: CandidateScore[] = [
  { settings: p(99.8), cosine: 0.9915, agreement: 94.9, collapsed: false, images: 256 },
  { settings: p(99.99), cosine: 0.97, agreement: 91, collapsed: false, images: 256 },
  { settings: { method: 'mse' }, cosine: 0.8141, agreement: 76.5625, collapsed: true, images: 256 },
  { settings: { method: 'entropy' }, cosine: 0.2714, agreement: 14.0625, collapsed: true, images: 256 },
];
const checked = (check: [number, number] | null): CheckedChoice => ({
  choice: 'calibrator',
  fit: { baseline: score(0.97, 256), chosen: score(0.9915, 256) },
  check: check && {
    baseline: score(check[0], 128),
    chosen: score(check[1], 128),
    difference: { mean: check[1] - check[0], low: check[1] - check[0] - 0.002, high: check[1] - check[0] + 0.002 },
  },
  applied: !check || check[1] - check[0] + 0.002 >= 0,
});

t.test('collapsed calibrators are listed with their scores; the choice shows its fit and check cosines', async (t) => {
  t.strictSame(
    selectionReports({ scores, chosen: p(99.8), baseline: p(99.99), checked: checked([0.9717, 0.9865]) }).map(
      (r) => r.summary,
    ),
    [
      'calibrators collapsed, int8 logits far from fp32 (cosine < 0.9 or top-1 agreement < 50.0 %), never chosen: mse (cosine 0.8141, agreement 76.6 %), entropy (cosine 0.2714, agreement 14.1 %)',
      'calibrator percentile 99.8 chosen over the default percentile 99.99: logit cosine 0.9700 → 0.9915 on 256 fit images, 0.9717 → 0.9865 on 128 check images (+0.0148, 95 % interval +0.0128…+0.0168)',
    ],
  );
});

t.test('a choice worse on the check images is not applied, and says so', async (t) => {
  const reports = selectionReports({
    scores: scores.slice(0, 2),
    chosen: p(99.8),
    baseline: p(99.99),
    checked: checked([0.9717, 0.9671]),
  });
  t.strictSame(
    reports.map((r) => r.summary),
    [
      'calibrator percentile 99.8 not applied, worse than the default percentile 99.99 on the check images: logit cosine 0.9700 → 0.9915 on 256 fit images, 0.9717 → 0.9671 on 128 check images (−0.0046, 95 % interval −0.0066…−0.0026)',
    ],
  );
  t.strictSame(reports[0]!.counts, { candidates: 2, applied: 0 });
});

t.test('every candidate collapsed: the best is used, loudly; no check images: said too', async (t) => {
  const collapsed = scores.slice(2);
  t.strictSame(
    selectionReports({ scores: collapsed, chosen: { method: 'mse' }, baseline: p(99.99), checked: checked(null) }).map(
      (r) => r.summary,
    ),
    [
      'calibrators collapsed, int8 logits far from fp32 (cosine < 0.9 or top-1 agreement < 50.0 %), never chosen: mse (cosine 0.8141, agreement 76.6 %), entropy (cosine 0.2714, agreement 14.1 %); every candidate collapsed, so mse is used: check the model and the calibration images',
      'calibrator mse chosen over the default percentile 99.99: logit cosine 0.9700 → 0.9915 on 256 fit images, no check images held back',
    ],
  );
});

t.test(
  'another method that beats the best percentile only within the noise: the percentile is kept, and said',
  async (t) => {
    const keptPercentile = {
      kept: { settings: p(99.8), cosine: 0.98744 },
      over: { settings: { method: 'mse' } as const, cosine: 0.98831 },
      difference: { mean: 0.00087, low: -0.00641, high: 0.01272 },
    };
    const text =
      "calibrator mse scored higher on the fit images than percentile 99.8 (0.9883 vs 0.9874) but within their noise (+0.0009, 95 % interval −0.0064…+0.0127): percentile 99.8 kept, a percentile's ranges being the stable ones";
    t.equal(percentileKeptText(keptPercentile), text);
    const reports = selectionReports({
      scores: scores.slice(0, 2),
      chosen: p(99.8),
      baseline: p(99.99),
      checked: checked([0.9717, 0.9865]),
      keptPercentile,
    });
    t.strictSame(
      reports.map((r) => r.pass),
      ['range-selection-noise', 'range-selection'],
    );
    t.equal(reports[0]!.summary, text);
  },
);

t.test('the calibrator choice images follow a compute budget: 256 for B0 at 224, 16 at least', async (t) => {
  // MACs of the reference B0@224, B3@300 and B7@600 (../shared/reference/params.json).
  t.equal(defaultSelectImages({ macs: 385814752 }), 256);
  t.equal(defaultSelectImages({ macs: 1827141392 }), 54);
  t.equal(defaultSelectImages({ macs: 37745884192 }), 16);
  t.equal(defaultSelectImages({ macs: 8e6 }), 256, 'the 32×32 fixture');
});

t.test(
  'the race: the candidates it stopped, with their interval behind the leader; their scores say on how many images',
  async (t) => {
    const race = {
      firstImages: 64,
      images: 256,
      leader: p(99.8),
      stopped: [
        { settings: { method: 'mse' } as const, difference: { mean: -0.18, low: -0.2012, high: -0.1587 } },
        { settings: { method: 'entropy' } as const, difference: { mean: -0.7, low: -0.7344, high: -0.6671 } },
      ],
    };
    const raced = scores.map((s) => (s.collapsed ? { ...s, images: 64 } : s));
    const reports = selectionReports({
      scores: raced,
      chosen: p(99.8),
      baseline: p(99.99),
      checked: checked([0.9717, 0.9865]),
      race,
    });
    t.strictSame(
      reports.map((r) => r.pass),
      ['collapse-check', 'range-selection-race', 'range-selection'],
    );
    t.equal(
      reports[0]!.summary,
      'calibrators collapsed, int8 logits far from fp32 (cosine < 0.9 or top-1 agreement < 50.0 %), never chosen: mse (cosine 0.8141, agreement 76.6 % on 64 images), entropy (cosine 0.2714, agreement 14.1 % on 64 images)',
    );
    t.equal(
      reports[1]!.summary,
      'calibrators stopped after 64 of 256 images, behind percentile 99.8 beyond the noise (95 % interval of the logit cosine difference): mse (−0.2012…−0.1587), entropy (−0.7344…−0.6671)',
    );
    t.strictSame(reports[1]!.counts, { stopped: 2 });
  },
);
