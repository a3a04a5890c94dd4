import t from 'tap';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { networkConfigFrom } from '../../toolkit/model/config.js';
import { weightsFromSeededInit } from '../../toolkit/model/init.js';
import { bytesFromSafetensors, safetensorsFromBytes, safetensorsFromFile } from '../../toolkit/model/safetensors.js';
import { weightSpecsFrom, weightsFromStateDict } from '../../toolkit/model/weights.js';
import { CIFAR_B0, REFERENCE } from '../helpers/paths.js';

const b0 = networkConfigFrom({ variant: 'b0' });

t.test('weight specs carry the seed and torchvision names', async (t) => {
  const specs = weightSpecsFrom(b0);
  t.equal(specs.length, 311, 'as many tensors as the seed state dict without num_batches_tracked');
  const byName = new Map(specs.map((s) => [s.name, s]));
  t.equal(byName.get('features.stem_conv.0.weight')!.torchvisionName, 'features.0.0.weight');
  t.equal(byName.get('features.1a.block.se.fc1.weight')!.torchvisionName, 'features.1.0.block.1.fc1.weight');
  t.equal(
    byName.get('features.1a.block.project_conv.1.running_var')!.torchvisionName,
    'features.1.0.block.2.1.running_var',
  );
  t.equal(byName.get('features.2b.block.expand_conv.0.weight')!.torchvisionName, 'features.2.1.block.0.0.weight');
  t.equal(byName.get('features.2b.block.se.fc2.bias')!.torchvisionName, 'features.2.1.block.2.fc2.bias');
  t.equal(byName.get('features.7a.block.project_conv.0.weight')!.torchvisionName, 'features.7.0.block.3.0.weight');
  t.equal(byName.get('features.top.1.weight')!.torchvisionName, 'features.8.1.weight');
  t.strictSame(byName.get('classifier.1.weight')!.shape, [1000, 1280]);
  t.strictSame(byName.get('features.2a.block.dwconv.0.weight')!.shape, [96, 1, 3, 3]);
});

t.test('the shared state dicts load with both namings', async (t) => {
  const seed = weightsFromStateDict({
    tensors: await safetensorsFromFile(join(REFERENCE, 'seed_b0', 'weights.safetensors')),
    config: b0,
    file: 'seed',
  });
  t.equal(seed.naming, 'seed');
  t.equal(seed.weights.size, 311);
  const cifar = networkConfigFrom({ variant: 'b0', numClasses: 10, resolution: 32 });
  const tv = weightsFromStateDict({
    tensors: await safetensorsFromFile(join(CIFAR_B0, 'weights.safetensors')),
    config: cifar,
    file: 'tv',
  });
  t.equal(tv.naming, 'torchvision');
  t.strictSame(
    [...tv.weights.keys()].sort(),
    weightSpecsFrom(cifar)
      .map((s) => s.name)
      .sort(),
  );
});

t.test('missing, extra and mis-shaped tensors are named with the expected shape', async (t) => {
  const tensors = safetensorsFromBytes({
    bytes: bytesFromSafetensors(
      new Map(
        [...weightsFromSeededInit({ config: b0, seed: 1 })].map(([name, data]) => [
          name,
          { shape: weightSpecsFrom(b0).find((s) => s.name === name)!.shape, data },
        ]),
      ),
    ),
    file: 'w',
  });
  t.equal(weightsFromStateDict({ tensors, config: b0, file: 'w.safetensors' }).weights.size, 311);

  const missing = new Map(tensors);
  missing.delete('features.3a.block.se.fc1.bias');
  t.throws(() => weightsFromStateDict({ tensors: missing, config: b0, file: 'w.safetensors' }), {
    name: 'FileFormatError',
    message:
      "w.safetensors: missing tensor 'features.3a.block.se.fc1.bias' (seed names; 'features.3a.block.se.fc1.bias' should have shape [6]); the weights do not fit b0 with 1000 classes: check --variant and --num-classes",
  });
  const extra = new Map(tensors);
  extra.set('features.8a.block.dwconv.0.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
  t.throws(() => weightsFromStateDict({ tensors: extra, config: b0, file: 'w.safetensors' }), {
    message:
      "w.safetensors: unexpected tensor 'features.8a.block.dwconv.0.weight' not in b0 (seed names); check the variant (--variant) and --num-classes",
  });
  const misShaped = new Map(tensors);
  misShaped.set('classifier.1.weight', { dtype: 'F32', shape: [10, 1280], data: new Float32Array(12800) });
  t.throws(() => weightsFromStateDict({ tensors: misShaped, config: b0, file: 'w.safetensors' }), {
    message:
      "w.safetensors: tensor 'classifier.1.weight' has shape [10, 1280], expected [1000, 1280]; check the variant (--variant), --width and --num-classes",
  });
  const withCounter = new Map(tensors);
  withCounter.set('features.top.1.num_batches_tracked', { dtype: 'I64', shape: [], data: new BigInt64Array(1) });
  t.equal(
    weightsFromStateDict({ tensors: withCounter, config: b0, file: 'w' }).weights.size,
    311,
    'BN counters are ignored',
  );
});

t.test('safetensors: half precision converts, bad files are named', async (t) => {
  const header = JSON.stringify({
    a: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
    b: { dtype: 'BF16', shape: [2], data_offsets: [6, 10] },
  });
  const bytes = new Uint8Array(8 + header.length + 10);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(header.length), true);
  bytes.set(new TextEncoder().encode(header), 8);
  const at = 8 + header.length;
  [0x3c00, 0xc000, 0x3555].forEach((v, i) => view.setUint16(at + 2 * i, v, true)); // 1, -2, 0.33325
  [0x3f80, 0x4049].forEach((v, i) => view.setUint16(at + 6 + 2 * i, v, true)); // 1, 3.140625
  const tensors = safetensorsFromBytes({ bytes, file: 'h' });
  t.strictSame([...(tensors.get('a')!.data as Float32Array)], [1, -2, Math.fround(0.333251953125)]);
  t.strictSame([...(tensors.get('b')!.data as Float32Array)], [1, 3.140625]);

  t.throws(() => safetensorsFromBytes({ bytes: new Uint8Array(4), file: 'x.safetensors' }), {
    message:
      'x.safetensors: not a safetensors file (4 bytes, too short for a header); expected weights saved with safetensors.torch.save_file',
  });
  t.throws(() => safetensorsFromBytes({ bytes: bytes.subarray(0, bytes.length - 2), file: 'x.safetensors' }), {
    message: `x.safetensors: truncated: tensor 'b' ends at byte ${bytes.length} but the file has ${bytes.length - 2}`,
  });
  const dir = t.testdir({ 'model.onnx': 'not weights at all' });
  await t.rejects(safetensorsFromFile(join(dir, 'model.onnx')), {
    message: new RegExp(
      `^${join(dir, 'model.onnx')}: not a safetensors file \\(header length \\d+ does not fit in 18 bytes\\)`,
    ),
  });
  await t.rejects(safetensorsFromFile(join(dir, 'nope.safetensors')), {
    message: `${join(dir, 'nope.safetensors')}: no such file`,
  });
  writeFileSync(join(dir, 'unused'), '');
});

t.test("seeded init is deterministic and has the seed's statistics", async (t) => {
  const a = weightsFromSeededInit({ config: b0, seed: 7 });
  const b = weightsFromSeededInit({ config: b0, seed: 7 });
  const c = weightsFromSeededInit({ config: b0, seed: 8 });
  const top = 'features.top.0.weight';
  t.strictSame(a.get(top), b.get(top), 'same seed, same weights');
  t.not(a.get(top)![0], c.get(top)![0], 'another seed, other weights');
  const std = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
  t.ok(Math.abs(std(a.get(top)!) - Math.sqrt(2 / 1280)) < 0.01 * Math.sqrt(2 / 1280), 'kaiming fan_out std √(2/1280)');
  t.ok(Math.abs(std(a.get('classifier.1.weight')!) - 0.01) < 0.0002, 'linear N(0, 0.01)');
  t.ok(
    a.get('features.top.1.weight')!.every((v) => v === 1),
    'BN gamma 1',
  );
  t.ok(
    a.get('features.top.1.running_var')!.every((v) => v === 1),
    'BN running var 1',
  );
  t.ok(
    a.get('features.1a.block.se.fc1.bias')!.every((v) => v === 0),
    'conv bias 0',
  );
});
