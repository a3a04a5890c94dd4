import t from 'tap';
import { batchStatisticsModel, benchModelFrom } from '../../bench/benchWeights.js';
import { onnxFromExportOptions } from '../../toolkit/model/export.js';
import { OrtRunner } from '../../toolkit/runtime/ort.js';
import { seededInput } from '../helpers/ort.js';

async function logitsOf(model: Parameters<typeof OrtRunner.create>[0]['model'], data: Float32Array) {
  const runner = await OrtRunner.create({ model });
  const out = await runner.run(data, [4, 3, 64, 64]);
  await runner.close();
  return out[runner.outputNames[0]!]!;
}

/** The largest difference between two images' logits for one class: 0 when the output ignores the input. */
const spread = (logits: Float32Array) => {
  const classes = logits.length / 4;
  let most = 0;
  for (let c = 0; c < classes; c++)
    for (let i = 1; i < 4; i++) most = Math.max(most, Math.abs(logits[i * classes + c]! - logits[c]!));
  return most;
};

t.test('bench weights: BN statistics from one batch, so the logits depend on the images', async (t) => {
  const images = { data: seededInput(4 * 3 * 64 * 64, 5), count: 4 };
  const seed = await onnxFromExportOptions({
    network: { variant: 'b0', resolution: 64 },
    weights: { kind: 'seeded', seed: 0 },
  });
  const seedSpread = spread(await logitsOf(seed.model, images.data));
  t.ok(seedSpread < 1e-9, `the seed's init: images' logits differ by ${seedSpread}`);

  const model = await benchModelFrom({ variant: 'b0', seed: 0, resolution: 64, images });
  const logits = await logitsOf(model, images.data);
  t.ok(spread(logits) > 0.05, `bench weights: images' logits differ by ${spread(logits)}`);
  // In eval mode on the batch its statistics came from, the model is the training-mode graph.
  const training = await logitsOf(batchStatisticsModel(model).model, images.data);
  const deviation = logits.reduce((m, v, i) => Math.max(m, Math.abs(v - training[i]!)), 0);
  t.ok(deviation < 1e-3 * Math.max(...logits.map(Math.abs)), `eval = training mode on that batch (${deviation})`);
  const again = await benchModelFrom({ variant: 'b0', seed: 0, resolution: 64, images });
  t.strictSame(await logitsOf(again, images.data), logits, 'deterministic');
});
