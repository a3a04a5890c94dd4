/** Our round trips, checked by the runtime that will execute the models: ONNX Runtime (CPU). */
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import t from 'tap';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { inferShapes } from '../../toolkit/onnx/shapes.js';
import { bytesFromModel, writeModelFile } from '../../toolkit/onnx/write.js';
import { FIXTURE } from './fixtures/models.js';

/** A fixed pseudo-random batch (LCG) of normalised-image-like values in [-2, 2). */
function randomInput(batch: number): ort.Tensor {
  const data = new Float32Array(batch * 3 * 32 * 32);
  let state = 12345;
  for (let i = 0; i < data.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = (state / 2 ** 32) * 4 - 2;
  }
  return new ort.Tensor('float32', data, [batch, 3, 32, 32]);
}

async function logits(source: string | Uint8Array, outputs?: string[]): Promise<Record<string, ort.Tensor>> {
  const options = { intraOpNumThreads: 1 };
  const session =
    typeof source === 'string'
      ? await ort.InferenceSession.create(source, options)
      : await ort.InferenceSession.create(source, options);
  try {
    return await session.run({ input: randomInput(2) }, outputs ?? session.outputNames);
  } finally {
    await session.release();
  }
}

t.test('ONNX Runtime gives identical logits before and after our round trips', async (t) => {
  const reference = (await logits(FIXTURE)).logits!;
  t.same(reference.dims, [2, 10]);
  t.ok(
    Array.from(reference.data as Float32Array).some((v) => v !== 0),
    'logits are not all zero',
  );

  const model = await modelFromFile({ path: FIXTURE });
  const inMemory = (await logits(bytesFromModel(model))).logits!;
  t.same(Array.from(inMemory.data as Float32Array), Array.from(reference.data as Float32Array), 'bytesFromModel');

  const dir = t.testdir({});
  const file = path.join(dir, 'external.onnx');
  await writeModelFile({ model, path: file, externalData: { location: 'external.onnx.data' } });
  const external = (await logits(file)).logits!;
  t.same(Array.from(external.data as Float32Array), Array.from(reference.data as Float32Array), 'external data file');

  const reread = await modelFromFile({ path: file });
  const again = (await logits(bytesFromModel(reread))).logits!;
  t.same(Array.from(again.data as Float32Array), Array.from(reference.data as Float32Array), 'external → inline');
});

t.test('inferred shapes match what ONNX Runtime produces', async (t) => {
  const model = inferShapes(await modelFromFile({ path: FIXTURE }));
  // Expose every intermediate value as a graph output so the runtime reports its shape.
  const exposed = { ...model, graph: { ...model.graph, outputs: [...model.graph.outputs, ...model.graph.valueInfo] } };
  const results = await logits(
    bytesFromModel(exposed),
    exposed.graph.outputs.map((o) => o.name),
  );
  let checked = 0;
  for (const info of exposed.graph.outputs) {
    const expected = info.shape!.map((d) => (d === 'batch' ? 2 : d));
    const actual = results[info.name]!.dims;
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      t.fail(`${info.name}: inferred ${JSON.stringify(expected)}, ORT ${JSON.stringify(actual)}`);
    }
    checked++;
  }
  t.equal(checked, 239, 'every node output checked');
});
