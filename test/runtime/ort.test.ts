import t from 'tap';
import { imagesPerRun, runSlices } from '../../toolkit/runtime/ort.js';

t.test('imagesPerRun: one 224×224 image a run, a whole batch of 32×32 ones, never zero', async (t) => {
  t.equal(imagesPerRun(3 * 224 * 224), 1);
  t.equal(imagesPerRun(3 * 32 * 32), 85);
  t.equal(imagesPerRun(3 * 600 * 600), 1);
});

t.test('runSlices: views of the batch in order, the last one short', async (t) => {
  const perImage = 3 * 160 * 160; // 76 800 floats: 3 images a run
  const data = Float32Array.from({ length: 7 * perImage }, (_, i) => i);
  const slices = [...runSlices(data, 7)];
  t.strictSame(
    slices.map((s) => [s.first, s.size]),
    [
      [0, 3],
      [3, 3],
      [6, 1],
    ],
  );
  t.equal(slices[1]!.data[0], 3 * perImage);
  t.equal(slices[2]!.data.length, perImage);
  t.equal(slices[2]!.data.buffer, data.buffer, 'a view, not a copy');
});
