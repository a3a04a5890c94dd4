import t from 'tap';
import { join } from 'node:path';
import { chainWithin } from '../../../calibration/calibrate/chain.js';
import { narrowPoints } from '../../../toolkit/onnx/graph.js';
import { modelFromFile } from '../../../toolkit/onnx/read.js';
import { valueInfoMap } from '../../../toolkit/onnx/shapes.js';
import { preparedFp32From } from '../../../toolkit/quant/quantize.js';
import { CIFAR_B0 } from '../../helpers/paths.js';

const fp32 = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model;
const shapes = valueInfoMap(fp32);
const tensors = fp32.graph.nodes.flatMap((n) => n.outputs);
const bytes = (tensor: string) => 4 * (shapes.get(tensor)!.shape!.slice(1) as number[]).reduce((a, b) => a * b, 1);
const chain = (maxBytes: number) => chainWithin({ model: fp32, shapes, tensors, maxBytes, imageDims: [3, 32, 32] });

t.test('narrow points: where one value alone carries the graph on', async (t) => {
  const points = narrowPoints(fp32);
  // The fixture's B0: the stem, every MBConv block's output, and the head up to the logits.
  t.ok(points.size >= 17, `${points.size} narrow points`);
  const nodes = fp32.graph.nodes;
  for (const [i, tensor] of points) {
    t.ok(nodes[i]!.outputs.includes(tensor), `${tensor} is computed by node ${i}`);
    const later = new Set(nodes.slice(i + 1).flatMap((n) => n.inputs));
    const earlier = nodes.slice(0, i + 1).flatMap((n) => n.outputs);
    t.strictSame(
      earlier.filter((name) => later.has(name) && name !== tensor),
      [],
      `nothing else crosses ${i}`,
    );
  }
});

t.test('a chain covers every tensor once, in graph order, each link within the budget', async (t) => {
  const total = tensors.reduce((sum, tensor) => sum + bytes(tensor), 0);
  const links = chain(total / 4)!;
  t.ok(links.length >= 4, `${links.length} links for a quarter of the activations`);
  t.strictSame(
    links.flatMap((l) => l.tensors),
    tensors,
  );
  t.strictSame(
    links.flatMap((l) => l.nodes),
    fp32.graph.nodes,
  );
  t.equal(links[0]!.input, fp32.graph.inputs[0]!.name);
  t.strictSame(links[0]!.inputDims, [3, 32, 32]);
  t.equal(links.at(-1)!.output, fp32.graph.outputs[0]!.name);
  for (const [k, link] of links.entries()) {
    t.ok(link.bytes <= total / 4, `link ${k}: ${link.bytes} bytes`);
    t.equal(
      link.bytes,
      link.tensors.reduce((sum, tensor) => sum + bytes(tensor), 0),
    );
    if (k > 0) {
      t.equal(link.input, links[k - 1]!.output, `link ${k} starts where link ${k - 1} ends`);
      t.strictSame(link.inputDims, shapes.get(link.input)!.shape!.slice(1));
    }
  }
  t.equal(chain(total)!.length, 1, 'the whole graph within the budget: one link');
});

t.test('no chain when a piece between two narrow points is over the budget', async (t) => {
  t.equal(chain(16 * 1024), null);
});
