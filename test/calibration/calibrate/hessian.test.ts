import t from 'tap';
import {
  addInputs,
  emptyHessian,
  symmetrised,
  type ConvGeometry,
  type HessianLayer,
} from '../../../calibration/calibrate/hessian.js';
import { GramRunner } from '../../../calibration/calibrate/gram.js';
import { Prng } from '../../../toolkit/model/prng.js';
import { roundingObjective } from '../../../toolkit/quant/gptq.js';

/** Direct convolution (no bias) of [N, C, H, W] by [O, C/group, kh, kw]: the sum of squares of its output. */
function convOutputEnergy(options: {
  x: Float32Array;
  dims: [number, number, number, number];
  w: Float64Array;
  outputs: number;
  group: number;
  geometry: ConvGeometry;
}): number {
  const { x, dims, w, outputs, group, geometry } = options;
  const [n, c, h, wd] = dims;
  const [kh, kw] = geometry.kernel;
  const perGroup = c / group;
  const outH = Math.floor((h + geometry.pads[0] + geometry.pads[2] - (kh - 1) - 1) / geometry.strides[0]) + 1;
  const outW = Math.floor((wd + geometry.pads[1] + geometry.pads[3] - (kw - 1) - 1) / geometry.strides[1]) + 1;
  let energy = 0;
  for (let b = 0; b < n; b++)
    for (let o = 0; o < outputs; o++)
      for (let oy = 0; oy < outH; oy++)
        for (let ox = 0; ox < outW; ox++) {
          let sum = 0;
          for (let ci = 0; ci < perGroup; ci++)
            for (let ky = 0; ky < kh; ky++)
              for (let kx = 0; kx < kw; kx++) {
                const y = oy * geometry.strides[0] - geometry.pads[0] + ky;
                const xx = ox * geometry.strides[1] - geometry.pads[1] + kx;
                if (y < 0 || y >= h || xx < 0 || xx >= wd) continue;
                const channel = Math.floor(o / (outputs / group)) * perGroup + ci;
                sum += w[((o * perGroup + ci) * kh + ky) * kw + kx]! * x[((b * c + channel) * h + y) * wd + xx]!;
              }
          energy += sum * sum;
        }
  return energy;
}

/** δ H δᵀ summed over output channels, each block of H serving its rows. */
async function objectiveFromHessian(
  layer: HessianLayer,
  delta: Float64Array,
  rows: number,
  dims: number[],
  x: Float32Array,
) {
  const hessian = emptyHessian(layer);
  // Two halves of the batch in two calls: the sums must stream.
  const half = dims[0]! / 2;
  const size = x.length / dims[0]!;
  for (const part of [0, 1])
    await addInputs({
      hessian,
      layer,
      data: x.subarray(part * half * size, (part + 1) * half * size),
      dims: [half, ...dims.slice(1)],
      gram,
    });
  const h = symmetrised(hessian);
  const cols = h.size;
  const blockRows = rows / h.blocks;
  let total = 0;
  for (let b = 0; b < h.blocks; b++) {
    const weights = delta.subarray(b * blockRows * cols, (b + 1) * blockRows * cols);
    total += roundingObjective({
      weights,
      values: new Int8Array(weights.length),
      scales: new Float32Array(blockRows).fill(1),
      rows: blockRows,
      cols,
      hessian: h.data.subarray(b * cols * cols, (b + 1) * cols * cols),
    });
  }
  return { total, samples: hessian.samples };
}

// The products run in ONNX Runtime (float32): the identities hold to float32 precision.
const gram = await GramRunner.create();
t.teardown(() => gram.close());

const geometry: ConvGeometry = { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], dilations: [1, 1] };

t.test('a strided, padded 3×3 convolution: δ H δᵀ is the energy of the convolution by δ', async (t) => {
  const prng = new Prng(2);
  const dims: [number, number, number, number] = [4, 3, 7, 7];
  const x = prng.fillNormal(new Float32Array(4 * 3 * 7 * 7), 0, 1);
  const delta = Float64Array.from({ length: 5 * 3 * 9 }, () => prng.nextNormal());
  const layer: HessianLayer = { name: 'w', kind: 'conv', input: 'x', channels: 3, ...geometry };
  const { total, samples } = await objectiveFromHessian(layer, delta, 5, dims, x);
  const direct = convOutputEnergy({ x, dims, w: delta, outputs: 5, group: 1, geometry });
  t.ok(Math.abs(total - direct) < 1e-5 * direct, `${total} vs ${direct}`);
  t.equal(samples, 4 * 16, 'one input vector per output position (4×4) and image');
});

t.test('a 1×1 convolution (patches are the channel planes): the same identity', async (t) => {
  const prng = new Prng(6);
  const dims: [number, number, number, number] = [2, 6, 5, 5];
  const x = prng.fillNormal(new Float32Array(2 * 6 * 25), 0, 1);
  const delta = Float64Array.from({ length: 4 * 6 }, () => prng.nextNormal());
  const pointwise: ConvGeometry = { kernel: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0], dilations: [1, 1] };
  const layer: HessianLayer = { name: 'w', kind: 'conv', input: 'x', channels: 6, ...pointwise };
  const { total, samples } = await objectiveFromHessian(layer, delta, 4, dims, x);
  const direct = convOutputEnergy({ x, dims, w: delta, outputs: 4, group: 1, geometry: pointwise });
  t.ok(Math.abs(total - direct) < 1e-5 * direct, `${total} vs ${direct}`);
  t.equal(samples, 2 * 25);
});

t.test('a depthwise convolution: one 9×9 H per channel', async (t) => {
  const prng = new Prng(4);
  const dims: [number, number, number, number] = [2, 4, 6, 6];
  const x = prng.fillNormal(new Float32Array(2 * 4 * 36), 0, 1);
  const delta = Float64Array.from({ length: 4 * 9 }, () => prng.nextNormal());
  const layer: HessianLayer = { name: 'w', kind: 'depthwise', input: 'x', channels: 4, ...geometry };
  t.equal(emptyHessian(layer).data.length, 4 * 81);
  const { total } = await objectiveFromHessian(layer, delta, 4, dims, x);
  const direct = convOutputEnergy({ x, dims, w: delta, outputs: 4, group: 4, geometry });
  t.ok(Math.abs(total - direct) < 1e-5 * direct, `${total} vs ${direct}`);
});

t.test('a dense layer: H = Σ x xᵀ over the batch', async (t) => {
  const x = Float32Array.of(1, 2, 3, -1, 0, 2);
  const layer: HessianLayer = { name: 'w', kind: 'dense', input: 'x', features: 3 };
  const hessian = emptyHessian(layer);
  await addInputs({ hessian, layer, data: x, dims: [2, 3], gram });
  t.strictSame([...symmetrised(hessian).data], [2, 2, 1, 2, 4, 6, 1, 6, 13]);
  t.equal(hessian.samples, 2);
});
