import t from 'tap';
import { accuracyWarnings } from '../../toolkit/eval/warnings.js';

const imagesFix = 'give --data with at least 100 labelled images';

t.test('each limit is a warning with the value, the limit and the fix', async (t) => {
  t.strictSame(accuracyWarnings({ images: 3, agreement: 0, cosine: 0.3612, imagesFix }), [
    '3 evaluation images, fewer than 100: top-1 and agreement on so few are mostly noise; give --data with at least 100 labelled images',
    "logit cosine 0.3612 to fp32, below 0.9: the int8 outputs are far from fp32's; try --method auto or more calibration images, and check that the preprocessing (--preset) matches training",
    'top-1 agreement 0.00 % with fp32, below 90 %: int8 changes the class of more than 1 image in 10; try --method auto or more calibration images',
  ]);
});

t.test('at the limits, and for float bundles (no agreement or cosine), nothing is said', async (t) => {
  t.strictSame(accuracyWarnings({ images: 100, agreement: 90, cosine: 0.9, imagesFix }), []);
  t.strictSame(accuracyWarnings({ images: 2000, agreement: null, cosine: null, imagesFix }), []);
  t.strictSame(accuracyWarnings({ images: 2000, agreement: 89.99, cosine: 0.99, imagesFix }), [
    'top-1 agreement 89.99 % with fp32, below 90 %: int8 changes the class of more than 1 image in 10; try --method auto or more calibration images',
  ]);
});
