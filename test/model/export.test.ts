import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { onnxFromExportOptions } from '../../toolkit/model/export.js';
import { flagMessageOf } from '../helpers/fieldErrors.js';
import { VARIANT_NAMES } from '../../toolkit/model/variants.js';
import { bytesFromModel } from '../../toolkit/onnx/write.js';
import { maxAbsDeviation } from '../../toolkit/eval/metrics.js';
import { CIFAR_B0, REFERENCE } from '../helpers/paths.js';
import { maxAbs, readFloat32, runOnnx, seededInput } from '../helpers/ort.js';

const seedDir = join(REFERENCE, 'seed_b0');
const file = (path: string) => readFloat32(path, readFileSync(path));

t.test("seed B0 weights reproduce PyTorch's logits in onnxruntime", async (t) => {
  const { model, naming, bnEpsilon } = await onnxFromExportOptions({
    network: { variant: 'b0' },
    weights: { kind: 'safetensors', path: join(seedDir, 'weights.safetensors') },
  });
  t.equal(naming, 'seed');
  t.equal(bnEpsilon, 1e-3);
  const logits = await runOnnx(bytesFromModel(model), file(join(seedDir, 'input.bin')), [1, 3, 224, 224]);
  const reference = file(join(seedDir, 'logits.bin'));
  const diff = maxAbsDeviation(logits, reference);
  t.ok(diff <= 1e-4 * maxAbs(reference), `max |Δ| ${diff.toExponential(2)} ≤ 1e-4 × ${maxAbs(reference).toFixed(4)}`);
  t.equal(logits.indexOf(Math.max(...logits)), 758, 'argmax as in meta.json');
});

t.test("torchvision-named CIFAR weights give the same logits as the fixture's torch export", async (t) => {
  const { model, naming, bnEpsilon } = await onnxFromExportOptions({
    network: { variant: 'b0', resolution: 32, numClasses: 10 },
    weights: { kind: 'safetensors', path: join(CIFAR_B0, 'weights.safetensors') },
  });
  t.equal(naming, 'torchvision');
  t.equal(bnEpsilon, 1e-5, "torchvision b0 uses BatchNorm2d's default eps");
  const input = seededInput(4 * 3 * 32 * 32);
  const ours = await runOnnx(bytesFromModel(model), input, [4, 3, 32, 32]);
  const torch = await runOnnx(join(CIFAR_B0, 'model.onnx'), input, [4, 3, 32, 32]);
  t.equal(ours.length, 40, 'dynamic batch of 4 × 10 classes');
  const diff = maxAbsDeviation(ours, torch);
  t.ok(diff <= 1e-4 * maxAbs(torch), `max |Δ| ${diff.toExponential(2)} vs the torch export`);
});

for (const variant of VARIANT_NAMES) {
  t.test(`${variant} with seeded weights exports, runs and is deterministic`, async (t) => {
    const options = {
      network: { variant, resolution: 64, numClasses: 5 },
      weights: { kind: 'seeded' as const, seed: 3 },
    };
    const first = bytesFromModel((await onnxFromExportOptions(options)).model);
    const second = bytesFromModel((await onnxFromExportOptions(options)).model);
    t.ok(Buffer.from(first).equals(Buffer.from(second)), 'same inputs, byte-identical ONNX');
    const logits = await runOnnx(first, seededInput(2 * 3 * 64 * 64), [2, 3, 64, 64]);
    t.equal(logits.length, 10);
    t.ok(logits.every(Number.isFinite), 'finite logits');
  });
}

t.test('export errors', async (t) => {
  await t.rejects(
    onnxFromExportOptions({
      network: { variant: 'b1' },
      weights: { kind: 'safetensors', path: join(seedDir, 'weights.safetensors') },
    }),
    {
      message: `${join(seedDir, 'weights.safetensors')}: missing tensor 'features.1b.block.dwconv.0.weight', 'features.1b.block.dwconv.1.weight', 'features.1b.block.dwconv.1.bias' and 125 more (seed names; 'features.1b.block.dwconv.0.weight' should have shape [16, 1, 3, 3]); the weights do not fit b1 with 1000 classes: check --variant and --num-classes`,
    },
  );
  const seeded = () => onnxFromExportOptions({ network: { variant: 'b0' }, weights: { kind: 'seeded', seed: -1 } });
  await t.rejects(seeded(), {
    field: 'seed',
    value: -1,
    message: 'seed must be an integer from 0 to 4294967295, got -1',
  });
  t.equal(
    await flagMessageOf(seeded, { field: 'seed', flag: '--seed' }),
    '--seed must be an integer from 0 to 4294967295, got -1',
  );
});
