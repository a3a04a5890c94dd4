import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { UserError } from '../../toolkit/errors.js';
import type { Model, Tensor } from '../../toolkit/onnx/ir.js';
import { modelFromBytes, modelFromFile } from '../../toolkit/onnx/read.js';
import { bytesFromModel, EXTERNAL_DATA_ALIGNMENT, writeModelFile } from '../../toolkit/onnx/write.js';
import { FIXTURE, firstDifference, fixtureBytes, tinyModel } from './fixtures/models.js';

const withoutExternal = (m: Model): Model => ({
  ...m,
  graph: { ...m.graph, initializers: m.graph.initializers.map(({ external: _, ...rest }): Tensor => rest) },
});

t.test('fixture: read → write → read is lossless and deterministic', async (t) => {
  const dir = t.testdir({});
  const original = await modelFromFile({ path: FIXTURE });
  const a = path.join(dir, 'a.onnx');
  const b = path.join(dir, 'b.onnx');
  await writeModelFile({ model: original, path: a });
  await writeModelFile({ model: original, path: b });
  const back = await modelFromFile({ path: a });
  t.equal(firstDifference(back, original), undefined, 'deep-equal IR');
  t.ok(readFileSync(a).equals(readFileSync(b)), 'same model, same bytes');
  t.ok(readFileSync(a).equals(Buffer.from(bytesFromModel(original))), 'file bytes = bytesFromModel');
  t.ok(readFileSync(a).equals(Buffer.from(fixtureBytes())), 'identical to the torch export');
  t.same(readdirSync(dir).sort(), ['a.onnx', 'b.onnx'], 'no temporary files left behind');
});

t.test('external data round trip', async (t) => {
  const dir = t.testdir({});
  const original = modelFromBytes({ bytes: fixtureBytes(), file: FIXTURE });
  const file = path.join(dir, 'model.onnx');
  await writeModelFile({ model: original, path: file, externalData: { location: 'model.onnx.data' } });
  const dataFile = path.join(dir, 'model.onnx.data');
  t.ok(statSync(file).size < 200_000, `model file holds the graph only (${statSync(file).size} bytes)`);
  t.ok(statSync(dataFile).size > 15_000_000, 'data file holds the weights');

  const back = await modelFromFile({ path: file });
  t.equal(firstDifference(withoutExternal(back), original), undefined, 'same IR apart from the external references');
  let previousEnd = 0;
  for (const tensor of back.graph.initializers) {
    const bytes = tensor.data.length * (tensor.data as Float32Array).BYTES_PER_ELEMENT;
    if (bytes < 1024) {
      t.equal(tensor.external, undefined, `${tensor.name} (${bytes} bytes) stays inline`);
      continue;
    }
    const ref = tensor.external!;
    t.equal(ref.location, 'model.onnx.data');
    t.equal(ref.offset % EXTERNAL_DATA_ALIGNMENT, 0, `${tensor.name} offset aligned`);
    t.ok(ref.offset >= previousEnd, 'tensors do not overlap and follow graph order');
    t.equal(ref.length, bytes);
    previousEnd = ref.offset + ref.length;
  }
  t.equal(statSync(dataFile).size, previousEnd, 'no trailing padding');

  // Writing the read-back model (with external references) again gives the same two files.
  const dir2 = t.testdir({});
  const file2 = path.join(dir2, 'model.onnx');
  await writeModelFile({ model: back, path: file2, externalData: { location: 'model.onnx.data' } });
  t.ok(readFileSync(file2).equals(readFileSync(file)), 'model file deterministic');
  t.ok(readFileSync(path.join(dir2, 'model.onnx.data')).equals(readFileSync(dataFile)), 'data file deterministic');

  // Without the option, everything goes inline again: the bytes of the original export.
  await writeModelFile({ model: back, path: file2 });
  t.ok(readFileSync(file2).equals(Buffer.from(fixtureBytes())), 'inline again');
});

t.test('a size threshold and a subfolder location', async (t) => {
  const dir = t.testdir({ weights: {} });
  const file = path.join(dir, 'tiny.onnx');
  await writeModelFile({
    model: tinyModel(),
    path: file,
    externalData: { location: 'weights/tiny.bin', sizeThreshold: 100 },
  });
  const back = await modelFromFile({ path: file });
  t.same(
    back.graph.initializers.map((x) => x.external?.offset),
    [0, undefined, undefined],
    'only w (216 bytes) is external',
  );
  t.equal(firstDifference(withoutExternal(back), tinyModel()), undefined);
});

t.test('overwrites an existing model atomically', async (t) => {
  const dir = t.testdir({ 'm.onnx': 'old contents' });
  const file = path.join(dir, 'm.onnx');
  await writeModelFile({ model: tinyModel(), path: file });
  t.ok(readFileSync(file).equals(Buffer.from(bytesFromModel(tinyModel()))));
  t.same(readdirSync(dir), ['m.onnx']);
});

t.test('errors', async (t) => {
  const dir = t.testdir({});
  const file = path.join(dir, 'm.onnx');
  for (const location of ['../up.data', '/abs/x.data', '']) {
    await t.rejects(
      writeModelFile({ model: tinyModel(), path: file, externalData: { location } }),
      new UserError(
        `external data location '${location}' must be a relative path inside the model's folder, e.g. 'model.onnx.data'`,
      ),
    );
  }
  await t.rejects(
    writeModelFile({ model: tinyModel(), path: file, externalData: { location: 'm.onnx' } }),
    new UserError("external data location 'm.onnx' is the model file itself; choose another name"),
  );
  const broken = tinyModel();
  broken.graph.initializers[2] = { ...broken.graph.initializers[2]!, dims: [6] };
  t.throws(
    () => bytesFromModel(broken),
    new UserError("cannot encode the model: tensor 'fc.b' holds 5 values but its dims [6] need 6"),
  );
  await t.rejects(
    writeModelFile({ model: broken, path: file }),
    new UserError(`cannot write ${file}: tensor 'fc.b' holds 5 values but its dims [6] need 6`),
  );
  await t.rejects(
    writeModelFile({ model: tinyModel(), path: path.join(dir, 'missing', 'm.onnx') }),
    new UserError(
      `cannot write ${path.join(dir, 'missing', 'm.onnx')}: ENOENT (check that its folder exists and is writable)`,
    ),
  );

  // A model read without its external data cannot be written inline: the message says why.
  await writeModelFile({ model: tinyModel(), path: file, externalData: { location: 'm.data', sizeThreshold: 0 } });
  const lazy = await modelFromFile({ path: file, loadExternalData: false });
  t.throws(
    () => bytesFromModel(lazy),
    new UserError(
      "cannot encode the model: tensor 'w' holds 0 values but its dims [3, 2, 3, 3] need 54 (its external data was " +
        'not loaded: read the model with loadExternalData: true)',
    ),
  );
  t.same(readdirSync(dir).sort(), ['m.data', 'm.onnx'], 'failed writes leave nothing behind');
});
