import t from 'tap';
import { join } from 'node:path';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { structureOf } from '../../toolkit/passes/recognise.js';
import { blockSegmentsOf, segmentReading, suffixFrom } from '../../toolkit/quant/blockSegments.js';
import { seededB0Models } from '../../bench/seededB0.js';
import { preparedFp32From } from '../../toolkit/quant/quantize.js';
import { CIFAR_B0 } from '../helpers/paths.js';

t.test('the fixture cuts into its 16 MBConv blocks and the head, each segment reading only its input', async (t) => {
  const fp32 = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model;
  const segments = blockSegmentsOf({ model: fp32, structure: structureOf(fp32).structure });
  t.equal(segments.length, 17);
  t.equal(segments[0]!.input, 'input', 'the stem rides with the first block');
  t.equal(segments.at(-1)!.output, fp32.graph.outputs[0]!.name, 'the head ends at the logits');
  t.equal(
    segments.reduce((n, s) => n + s.nodes.length, 0),
    fp32.graph.nodes.length,
    'every node in exactly one segment',
  );
  const initializers = new Set(fp32.graph.initializers.map((i) => i.name));
  for (const [k, segment] of segments.entries()) {
    if (k > 0) t.equal(segment.input, segments[k - 1]!.output, `segment ${k} starts where ${k - 1} ends`);
    const made = new Set([segment.input, ...segment.nodes.flatMap((n) => n.outputs)]);
    const outside = segment.nodes.flatMap((n) => n.inputs).filter((i) => i && !made.has(i) && !initializers.has(i));
    t.strictSame(outside, [], `segment ${k} reads nothing from outside`);
  }
  const blockOutput = segments[3]!.output;
  t.equal(segmentReading(segments, blockOutput), segments[4], 'a block output is searched in the block that reads it');
});

t.test("a tensor's suffix: the nodes it reaches, and the values from before it they read", async (t) => {
  const { fp32 } = await seededB0Models({ resolution: 32, profile: 'tensorrt' });
  const segments = blockSegmentsOf({ model: fp32, structure: structureOf(fp32).structure });
  const initializers = new Set(fp32.graph.initializers.map((i) => i.name));
  const segment = segmentReading(segments, '2b.expand_conv.silu')!;
  const suffix = (tensor: string) => {
    const { piece, sides } = suffixFrom({ segment, tensor, initializers });
    return { input: piece.input, output: piece.output, ops: piece.nodes.map((n) => n.opType).join(' '), sides };
  };
  t.strictSame(
    suffix(segment.input),
    {
      input: '2a.project_conv.bn',
      output: '2b.add',
      ops: 'Conv Sigmoid Mul Conv Sigmoid Mul GlobalAveragePool Conv Sigmoid Mul Conv Sigmoid Mul Conv Add',
      sides: [],
    },
    "the segment's input: the whole segment",
  );
  t.strictSame(
    suffix('2b.expand_conv.silu'),
    {
      input: '2b.expand_conv.silu',
      output: '2b.add',
      ops: 'Conv Sigmoid Mul GlobalAveragePool Conv Sigmoid Mul Conv Sigmoid Mul Conv Add',
      sides: ['2a.project_conv.bn'],
    },
    'past the expansion: the residual identity read from before it',
  );
  t.strictSame(
    suffix('2b.se.fc2.sigmoid'),
    {
      input: '2b.se.fc2.sigmoid',
      output: '2b.add',
      ops: 'Mul Conv Add',
      sides: ['2b.dwconv.silu', '2a.project_conv.bn'],
    },
    'the SE gate: the gating Mul, the projection and the residual Add, with the tensor it scales',
  );
  t.strictSame(
    suffixFrom({ segment: segments[0]!, tensor: '2b.se.fc2.sigmoid', initializers }),
    { piece: segments[0], sides: [] },
    'a tensor that does not reach the output: the whole segment',
  );
});
