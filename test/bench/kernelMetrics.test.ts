/**
 * The bench's kernel classes: 1×1 convs apart from the stem's k×k conv, depthwise bytes per MAC from each layer's
 * kernel and stride, and the copy bound summed layer by layer.
 */
import t from 'tap';
import { depthwiseBytes, kernelMetricsFrom } from '../../bench/kernelMetrics.js';
import { Prng } from '../../toolkit/model/prng.js';
import type { EngineProgram } from '../../toolkit/runtime/int8/lower.js';
import type { Int8LayerStats } from '../../toolkit/runtime/int8/native.js';
import { conv, depthwise } from '../helpers/int8Layers.js';

t.test('a 3×3 depthwise moves 2/9 bytes per MAC at stride 1 and 5/9 at stride 2', async (t) => {
  t.same(depthwiseBytes({ macs: 9 * 100, kernel: [3, 3], stride: 1 }), { read: 100, written: 100 });
  t.same(depthwiseBytes({ macs: 9 * 100, kernel: [3, 3], stride: 2 }), { read: 400, written: 100 });
  t.same(depthwiseBytes({ macs: 25 * 100, kernel: [5, 5], stride: 1 }), { read: 100, written: 100 });
});

t.test('each class is timed per image, against the peak and (depthwise) the copy bound', async (t) => {
  const prng = new Prng(1);
  const shape = { c: 8, h: 4, w: 4 };
  const program: EngineProgram = {
    input: { tensor: 'x', channels: 8, height: 4, width: 4, scale: 1 },
    classes: 0,
    layers: [
      conv(prng, 'x', 'a', shape, 16, 3, 1, [1, 1, 1, 1]),
      depthwise(prng, 'a', 'b', 16, 3, 2, [1, 1, 1, 1]),
      conv(prng, 'b', 'c', { c: 16, h: 2, w: 2 }, 8, 1, 1, [0, 0, 0, 0]),
    ],
  };
  const stats: Int8LayerStats[] = [
    { index: 0, kind: 'conv', block: 1, macs: 4000, totalMs: 0.02, floatRequant: true },
    { index: 1, kind: 'depthwise', block: 1, macs: 9000, totalMs: 0.2, floatRequant: true },
    { index: 2, kind: 'conv', block: 1, macs: 6000, totalMs: 0.01, floatRequant: true },
  ];
  const metrics = kernelMetricsFrom({ stats, program, runs: 10, peakGops: 10, copyGBps: (bytes) => bytes / 100 });
  t.same(metrics.stem, { layers: 1, ms: 0.002, macs: 4000, gops: 4, shareOfPeak: 0.4 });
  t.same(metrics.pointwise, { layers: 1, ms: 0.001, macs: 6000, gops: 12, shareOfPeak: 1.2 });
  // 1000 outputs written, 4000 inputs read (stride 2); copying 4000 bytes runs at 40 GB/s: 5000 bytes in 0.000125 ms.
  t.equal(metrics.depthwise.bytes, 5000);
  t.equal(metrics.depthwise.bytesPerMac, 5000 / 9000);
  t.equal(metrics.depthwise.achievedGBps, 5000 / (0.02 * 1e6));
  t.equal(metrics.depthwise.boundMs, 0.000125);
  t.equal(metrics.depthwise.shareOfBound, 0.000125 / 0.02);
  t.throws(() => kernelMetricsFrom({ stats: stats.slice(1), program, runs: 1, peakGops: 0, copyGBps: () => 1 }), {
    message: 'the engine profiles 2 layers, its program has 3',
  });
});
