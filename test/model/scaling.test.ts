import t from 'tap';
import { makeDivisible, scaleChannels, scaleRepeats } from '../../toolkit/model/scaling.js';

t.test('makeDivisible rounds to the nearest multiple of 8, halves up, never more than 10% down', async (t) => {
  t.equal(makeDivisible(32), 32);
  t.equal(makeDivisible(35.2), 32, '35.2 → 32 (9.1% down is allowed)');
  t.equal(makeDivisible(36), 40, 'halves round up');
  t.equal(makeDivisible(123.2), 120);
  t.equal(makeDivisible(3), 8, 'at least the divisor');
  // 91 → floor(95 / 8) × 8 = 88, which is above 0.9 × 91 = 81.9, so it stands.
  t.equal(makeDivisible(91), 88);
  t.equal(makeDivisible(17, 16), 16);
  t.equal(makeDivisible(9, 16), 16, 'min channels = divisor');
  t.equal(makeDivisible(26, 16, 16), 32, '24 → rounds to 32 since 26+8=34 → 32');
  t.equal(makeDivisible(9.4, 8, 1), 16, '8 < 0.9 × 9.4 = 8.46, so 8 is bumped to 16');
});

t.test('width and depth scaling as the seed applies them', async (t) => {
  t.equal(scaleChannels(1280, 2.0), 2560);
  t.equal(scaleChannels(32, 1.1), 32);
  t.equal(scaleChannels(112, 1.1), 120);
  t.equal(scaleChannels(320, 1.8), 576);
  t.equal(scaleRepeats(2, 1.1), 3, 'ceil(2.2)');
  t.equal(scaleRepeats(3, 1.1), 4, 'ceil(3.3000000000000003)');
  t.equal(scaleRepeats(4, 3.1), 13);
  t.equal(scaleRepeats(1, 1.0), 1);
});
