import t from 'tap';
import { SqnrAccumulator, argmax, meanCosine, top1Agreement, topK, topKAccuracy } from '../../toolkit/eval/metrics.js';

const a = { data: Float32Array.of(0.1, 0.7, 0.2, 0.5, 0.4, 0.1, 0.3, 0.3, 0.4), classes: 3 };
const b = { data: Float32Array.of(0.1, 0.7, 0.2, 0.4, 0.5, 0.1, 0.3, 0.3, 0.4), classes: 3 };

t.test('accuracy, agreement and cosine', async (t) => {
  t.equal(argmax(a, 0), 1);
  t.strictSame(topK(a, 2, 2), [2, 0], 'ties keep the lower index first');
  t.equal(topKAccuracy(a, [1, 0, 0], 1), (100 * 2) / 3);
  t.equal(topKAccuracy(a, [1, 0, 0], 2), 100);
  t.equal(top1Agreement(a, b), (100 * 2) / 3);
  t.equal(meanCosine(a, a), 1);
  const cos = (0.5 * 0.4 + 0.4 * 0.5 + 0.01) / (0.25 + 0.16 + 0.01);
  t.ok(Math.abs(meanCosine(a, b) - (2 + cos) / 3) < 1e-6);
});

t.test('SQNR in dB', async (t) => {
  const s = new SqnrAccumulator();
  s.add([1, 1, 1, 1], [1.1, 0.9, 1.1, 0.9]);
  t.ok(Math.abs(s.db() - 20) < 1e-9, 'signal 4, noise 0.04 → 20 dB');
  const exact = new SqnrAccumulator();
  exact.add([1, 2], [1, 2]);
  t.equal(exact.db(), Infinity);
});
